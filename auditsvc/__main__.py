from auditsvc.cli import main

main()
