module github.com/procreap/procreap/examples/go

go 1.22

require github.com/procreap/procreap/bindings/go v0.0.0

// A checkout of procreap: build its archive first with `make go`.
replace github.com/procreap/procreap/bindings/go => ../../bindings/go
