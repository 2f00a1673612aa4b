package procreap

// ExplainWithCDefaults exposes Explain over a NULL configuration (the C
// defaults) to the external tests.
var ExplainWithCDefaults = explainWithCDefaults
