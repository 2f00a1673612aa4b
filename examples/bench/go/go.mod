module github.com/procreap/procreap/examples/bench/go

go 1.22

require github.com/procreap/procreap/bindings/go v0.0.0

// This checkout's binding: scripts/bench.sh runs `make go` first.
replace github.com/procreap/procreap/bindings/go => ../../../bindings/go
