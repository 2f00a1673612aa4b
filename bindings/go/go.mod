module github.com/procreap/procreap/bindings/go

go 1.22
