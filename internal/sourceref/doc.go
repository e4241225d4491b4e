// Package sourceref finds the artifact of the source an object refers to, through Flux's
// sourcev1.Source interface: any kind of the source API with an artifact (GitRepository,
// OCIRepository, Bucket, HelmChart, ExternalArtifact) is looked up the same way, with no type
// switch, so that a new source kind plugs in by being in the scheme.
//
// Invariants: only kinds of source.toolkit.fluxcd.io that implement sourcev1.Source are read;
// the caller decides which of them it accepts.
package sourceref
