// Package features holds the feature gates of `weir controller --feature-gates`: Flux's gate
// names, so that the flags of a Flux deployment carry over, with weir's defaults.
//
// Invariants: an unknown gate name is an error, as in Flux; every known gate says what it does
// in weir, including the gates whose behaviour weir does not have (yet), which are accepted
// and have no effect.
package features
