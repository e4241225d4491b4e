// Package compat holds, in one place, every name weir shares with Flux on the wire: finalizers,
// field managers, annotations and labels, condition types and reasons, event metadata keys and
// metric names. Changing one breaks clusters that move between Flux and weir, so a test pins
// each value.
package compat
