# Sees every document at once under --combine: input is [{path, contents}].
package combine

deny[msg] {
  names := [d.contents.metadata.name | d := input[_]; d.contents.kind == "Service"]
  count(names) != count({n | n := names[_]})
  msg := "two Services share a name"
}
