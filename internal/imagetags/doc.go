// Package imagetags keeps the tags of each ImageRepository: one file per object,
// <root>/<namespace>/<name>/tags.txt, one tag per line, the layout of Flux's FluxStorage
// backend, written atomically, read back after a restart, and held in memory for the
// ImagePolicies that read them.
//
// Invariants: a repository holds at most MaxTags tags of at most 128 bytes each (the OCI
// limit), so a file and its memory are bounded; a write replaces the previous tags entirely
// or not at all; the revision of a set of tags is the sha256 of its sorted lines, so a
// repository whose tags did not change is neither written nor reported as changed.
package imagetags
