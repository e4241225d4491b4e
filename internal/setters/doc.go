// Package setters writes selected images into YAML files at the fields marked with Flux's
// image policy markers, line comments such as
//
//	image: ghcr.io/org/app:1.0.0 # {"$imagepolicy": "flux-system:app"}
//	tag: 1.0.0 # {"$imagepolicy": "flux-system:app:tag"}
//
// (suffixes :tag, :name and :digest pick one part of the image; none means name:tag, with
// @digest when the policy reflects it).
//
// It is pure: bytes in, bytes out. Invariants: only the bytes of a marked scalar change; every
// other byte of a file (comments, quoting, indentation, key order, other documents) is kept;
// a marked scalar keeps its quoting style; files that fail to parse, are too large, or whose
// edit would not parse back are reported and left alone; paths stay inside the root.
package setters
