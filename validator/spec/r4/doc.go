// Package r4 embeds the FHIR R4 (4.0.1) core definitions, so a fresh build
// validates without npm or network: all 655 StructureDefinitions (types,
// resources, core profiles such as vitalsigns/bp, extension definitions),
// 1,316 ValueSets and 1,062 CodeSystems from the CC0 package
// hl7.fhir.r4.examples@4.0.1, trimmed to the fields package spec models.
//
// Each definition is deflate-compressed on its own against a shared
// dictionary (core.dat, core.dict) and listed in a small text index
// (core.idx) that also carries every StructureDefinition's header. A
// process therefore pays only for the index (about 1 ms, on first use) and
// for the definitions it actually asks for, each decoded once and cached.
//
// To regenerate core.*, fetch the package into a scratch directory and run
// the generator from this directory:
//
//	cd /tmp && npm pack hl7.fhir.r4.examples@4.0.1   # or: npm install hl7.fhir.r4.examples@4.0.1
//	cd validator/spec/r4 && R4PKG=/tmp/hl7.fhir.r4.examples-4.0.1.tgz go generate
//
// -pkg accepts the .tgz or an unpacked directory (node_modules/hl7.fhir.r4.examples).
package r4

//go:generate sh -c "go run ./gen -pkg \"$R4PKG\" -out ."
