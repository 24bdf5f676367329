// Package jsonbench compares JSON libraries on the normalizer's work: decode a raw
// envelope and the provider entry inside it, encode the canonical event. It is its own Go
// module so that auditstream does not depend on the libraries it was compared with; see
// docs/benchmarks.md "JSON handling" for the command and the results.
package jsonbench
