package tagpolicy

import (
	"errors"
	"fmt"
	"regexp"
	"strconv"

	"github.com/Masterminds/semver/v3"
)

var (
	// ErrInvalidPolicy means the policy itself is wrong: retrying cannot help until it changes.
	ErrInvalidPolicy = errors.New("invalid policy")
	// ErrNoMatch means no tag satisfies the policy.
	ErrNoMatch = errors.New("no matching tag")
)

// Orders of the alphabetical and numerical policies.
const (
	OrderAsc  = "asc"
	OrderDesc = "desc"
)

// Policy is an ImagePolicy's spec.policy and spec.filterTags; exactly one of SemVer,
// Alphabetical and Numerical is set (Alphabetical and Numerical hold the order, "" for asc).
type Policy struct {
	SemVer       *string
	Alphabetical *string
	Numerical    *string
	// Pattern filters the tags; Extract (with $name or ${n} references to its groups) is what
	// is compared instead of the tag.
	Pattern, Extract string
}

// Selector is a compiled Policy.
type Selector struct {
	filter  *regexp.Regexp
	extract string
	pick    func(candidates []candidate) (candidate, error)
}

type candidate struct{ tag, value string }

// Compile checks p and returns its Selector.
func Compile(p Policy) (*Selector, error) {
	s := &Selector{extract: p.Extract}
	if p.Pattern != "" {
		re, err := regexp.Compile(p.Pattern)
		if err != nil {
			return nil, fmt.Errorf("%w: invalid regular expression pattern '%s': %w", ErrInvalidPolicy, p.Pattern, err)
		}
		s.filter = re
	} else if p.Extract != "" {
		return nil, fmt.Errorf("%w: filterTags.extract needs filterTags.pattern", ErrInvalidPolicy)
	}
	set := 0
	switch {
	case p.SemVer != nil:
		set++
		c, err := semver.NewConstraint(*p.SemVer)
		if err != nil {
			return nil, fmt.Errorf("%w: semver range '%s': %w", ErrInvalidPolicy, *p.SemVer, err)
		}
		s.pick = func(cs []candidate) (candidate, error) { return latestSemver(c, *p.SemVer, cs) }
	case p.Alphabetical != nil:
		set++
		order, err := checkOrder(*p.Alphabetical)
		if err != nil {
			return nil, err
		}
		s.pick = func(cs []candidate) (candidate, error) { return latestAlphabetical(order, cs) }
	case p.Numerical != nil:
		set++
		order, err := checkOrder(*p.Numerical)
		if err != nil {
			return nil, err
		}
		s.pick = func(cs []candidate) (candidate, error) { return latestNumerical(order, cs) }
	}
	if set == 0 {
		return nil, fmt.Errorf("%w: no policy given: set semver, alphabetical or numerical", ErrInvalidPolicy)
	}
	return s, nil
}

func checkOrder(o string) (string, error) {
	switch o {
	case "", OrderAsc:
		return OrderAsc, nil
	case OrderDesc:
		return OrderDesc, nil
	}
	return "", fmt.Errorf("%w: invalid order '%s': use '%s' or '%s'", ErrInvalidPolicy, o, OrderAsc, OrderDesc)
}

// Latest returns the latest of tags, after the filter.
func (s *Selector) Latest(tags []string) (string, error) {
	cs := make([]candidate, 0, len(tags))
	for _, t := range tags {
		if s.filter == nil {
			cs = append(cs, candidate{tag: t, value: t})
			continue
		}
		m := s.filter.FindStringSubmatchIndex(t)
		if m == nil {
			continue
		}
		v := t
		if s.extract != "" {
			v = string(s.filter.ExpandString(nil, s.extract, t, m))
		}
		cs = append(cs, candidate{tag: t, value: v})
	}
	if len(cs) == 0 {
		if s.filter != nil {
			return "", fmt.Errorf("%w: none of %d tags matches pattern '%s'", ErrNoMatch, len(tags), s.filter)
		}
		return "", fmt.Errorf("%w: no tags", ErrNoMatch)
	}
	c, err := s.pick(cs)
	if err != nil {
		return "", err
	}
	return c.tag, nil
}

func latestSemver(c *semver.Constraints, rng string, cs []candidate) (candidate, error) {
	var (
		best  candidate
		bestV *semver.Version
	)
	for _, cand := range cs {
		v, err := semver.NewVersion(cand.value)
		if err != nil || !c.Check(v) {
			continue
		}
		// Equal versions ("1.0" and "1.0.0"): the greater tag wins, so the choice is stable.
		if bestV == nil || v.GreaterThan(bestV) || (v.Equal(bestV) && cand.tag > best.tag) {
			best, bestV = cand, v
		}
	}
	if bestV == nil {
		return best, fmt.Errorf("%w: no tag of %d satisfies semver range '%s'", ErrNoMatch, len(cs), rng)
	}
	return best, nil
}

func latestAlphabetical(order string, cs []candidate) (candidate, error) {
	best := cs[0]
	for _, c := range cs[1:] {
		if (order == OrderAsc && (c.value > best.value || c.value == best.value && c.tag > best.tag)) ||
			(order == OrderDesc && (c.value < best.value || c.value == best.value && c.tag < best.tag)) {
			best = c
		}
	}
	return best, nil
}

func latestNumerical(order string, cs []candidate) (candidate, error) {
	var (
		best  candidate
		bestN float64
	)
	for i, c := range cs {
		n, err := strconv.ParseFloat(c.value, 64)
		if err != nil {
			return best, fmt.Errorf("%w: failed to parse invalid numeric value '%s' (of tag '%s'): filter the tags with filterTags.pattern",
				ErrNoMatch, c.value, c.tag)
		}
		if i == 0 || (order == OrderAsc && (n > bestN || n == bestN && c.tag > best.tag)) ||
			(order == OrderDesc && (n < bestN || n == bestN && c.tag < best.tag)) {
			best, bestN = c, n
		}
	}
	return best, nil
}
