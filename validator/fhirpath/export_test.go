package fhirpath

// The fuzz tests turn panics back on so that the stack shows where they
// come from.
func init() { recoverPanics = false }
