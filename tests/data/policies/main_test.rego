package main

test_root_denied {
  deny["Containers must not run as root"] with input as {"kind": "Deployment", "spec": {"template": {"spec": {}}}}
}

test_nonroot_allowed {
  count(deny) == 0 with input as {"kind": "Deployment", "spec": {"template": {"spec": {"securityContext": {"runAsNonRoot": true}}}}}
}
