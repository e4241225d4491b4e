// Package config embeds weir's Kubernetes manifests: the CRDs generated from the Flux API type
// modules (crd/bases) and the templates of the install (install/).
package config

import "embed"

// CRDs holds crd/bases/*.yaml, the CustomResourceDefinitions of every Flux kind.
//
//go:embed crd/bases/*.yaml
var CRDs embed.FS

// Install holds install/*.yaml, the templates of weir's install manifests.
//
//go:embed install/*.yaml
var Install embed.FS
