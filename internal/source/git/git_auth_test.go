package git

import (
	"reflect"
	"testing"
)

// TestAuthFingerprint changes every field of Auth and Proxy, one at a time: each change gives
// another fingerprint, so two GitRepositories share a fetch only with equal credentials. A
// field added to either struct without a place in Fingerprint fails here.
func TestAuthFingerprint(t *testing.T) {
	base := Auth{}
	seen := map[string]string{base.Fingerprint(): "zero"}
	variants := map[string]Auth{"empty proxy": {Proxy: &Proxy{}}}
	at := reflect.TypeOf(Auth{})
	for i := range at.NumField() {
		f := at.Field(i)
		a := Auth{}
		v := reflect.ValueOf(&a).Elem().Field(i)
		switch f.Type.Kind() {
		case reflect.String:
			v.SetString("x")
		case reflect.Slice:
			v.SetBytes([]byte("x"))
		case reflect.Pointer:
			continue // Proxy, below
		default:
			t.Fatalf("field %s of kind %s: teach Fingerprint and this test about it", f.Name, f.Type.Kind())
		}
		variants[f.Name] = a
	}
	pt := reflect.TypeOf(Proxy{})
	for i := range pt.NumField() {
		p := &Proxy{}
		reflect.ValueOf(p).Elem().Field(i).SetString("x")
		variants["Proxy."+pt.Field(i).Name] = Auth{Proxy: p}
	}
	if want := at.NumField() - 1 + pt.NumField() + 1; len(variants) != want {
		t.Fatalf("%d variants, want %d", len(variants), want)
	}
	for name, a := range variants {
		fp := a.Fingerprint()
		if other, ok := seen[fp]; ok {
			t.Errorf("%s has the fingerprint of %s", name, other)
		}
		seen[fp] = name
		if again := a.Fingerprint(); again != fp {
			t.Errorf("%s: fingerprint changed between calls", name)
		}
	}
	// Length prefixes keep values from running into each other.
	if (Auth{Username: "ab", Password: "c"}).Fingerprint() == (Auth{Username: "a", Password: "bc"}).Fingerprint() {
		t.Error("username \"ab\" and password \"c\" collide with \"a\" and \"bc\"")
	}
}
