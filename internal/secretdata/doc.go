// Package secretdata reads Flux's conventional Secret keys, without Kubernetes: TLS material
// (ca.crt, tls.crt, tls.key, and the legacy caFile, certFile, keyFile), proxy addresses
// (address, username, password) and basic or token credentials.
//
// Invariant: errors name the key that is wrong, never a value.
package secretdata
