package tagpolicy

import (
	"errors"
	"strings"
	"testing"
)

func ptr(s string) *string { return &s }

func TestLatest(t *testing.T) {
	tags := []string{"1.0.0", "1.2.0", "1.10.0", "2.0.0-rc.1", "v1.11.0", "latest", "main-20", "main-3", "main-100"}
	cases := map[string]struct {
		policy Policy
		tags   []string
		want   string
		err    error
	}{
		"semver range":               {policy: Policy{SemVer: ptr("1.x")}, want: "v1.11.0"},
		"semver excludes prerelease": {policy: Policy{SemVer: ptr(">=1.0.0")}, want: "v1.11.0"},
		"semver prerelease":          {policy: Policy{SemVer: ptr(">=2.0.0-0")}, want: "2.0.0-rc.1"},
		"semver no match":            {policy: Policy{SemVer: ptr(">=3.0.0")}, err: ErrNoMatch},
		"semver bad range":           {policy: Policy{SemVer: ptr("not a range")}, err: ErrInvalidPolicy},
		"alphabetical asc":           {policy: Policy{Alphabetical: ptr("")}, want: "v1.11.0"},
		"alphabetical desc":          {policy: Policy{Alphabetical: ptr("desc")}, want: "1.0.0"},
		"alphabetical bad order":     {policy: Policy{Alphabetical: ptr("up")}, err: ErrInvalidPolicy},
		"numerical extract asc": {policy: Policy{Numerical: ptr("asc"), Pattern: `^main-(?P<n>\d+)$`, Extract: "$n"},
			want: "main-100"},
		"numerical extract desc": {policy: Policy{Numerical: ptr("desc"), Pattern: `^main-(\d+)$`, Extract: "${1}"},
			want: "main-3"},
		"numerical unparsable":     {policy: Policy{Numerical: ptr("asc")}, err: ErrNoMatch},
		"pattern no match":         {policy: Policy{Alphabetical: ptr("asc"), Pattern: "^release-"}, err: ErrNoMatch},
		"pattern does not compile": {policy: Policy{Alphabetical: ptr("asc"), Pattern: "(("}, err: ErrInvalidPolicy},
		"extract without pattern":  {policy: Policy{Alphabetical: ptr("asc"), Extract: "$1"}, err: ErrInvalidPolicy},
		"no policy":                {policy: Policy{}, err: ErrInvalidPolicy},
		"no tags":                  {policy: Policy{SemVer: ptr("*")}, tags: []string{}, err: ErrNoMatch},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			in := tags
			if tc.tags != nil {
				in = tc.tags
			}
			s, err := Compile(tc.policy)
			var got string
			if err == nil {
				got, err = s.Latest(in)
			}
			if tc.err != nil {
				if !errors.Is(err, tc.err) {
					t.Fatalf("err = %v, want %v", err, tc.err)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Fatalf("Latest = %q, %v; want %q", got, err, tc.want)
			}
		})
	}
}

// FuzzLatest: any policy and tags give an error or one of the tags given, never a panic.
func FuzzLatest(f *testing.F) {
	f.Add("1.x", "", "", "1.0.0,1.2.0,latest", uint8(0))
	f.Add("", `^main-(?P<n>\d+)$`, "$n", "main-1,main-20", uint8(2))
	f.Add("", "((", "", "a", uint8(1))
	f.Fuzz(func(t *testing.T, rng, pattern, extract, tags string, kind uint8) {
		var p Policy
		switch kind % 3 {
		case 0:
			p.SemVer = &rng
		case 1:
			p.Alphabetical = &rng
		default:
			p.Numerical = &rng
		}
		p.Pattern, p.Extract = pattern, extract
		s, err := Compile(p)
		if err != nil {
			return
		}
		list := strings.Split(tags, ",")
		got, err := s.Latest(list)
		if err != nil {
			return
		}
		for _, tag := range list {
			if tag == got {
				return
			}
		}
		t.Fatalf("Latest = %q, not one of %q", got, list)
	})
}
