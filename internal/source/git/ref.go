package git

import (
	"fmt"
	"regexp"
	"strings"
)

// DefaultBranch is the branch tracked when a Reference is empty, as in Flux.
const DefaultBranch = "master"

// Reference selects what to check out. When several fields are set the
// precedence is Commit > Name > SemVer > Tag > Branch, except that Branch
// still names the branch a Commit is fetched from and reported under.
type Reference struct {
	// Branch to track; DefaultBranch when the Reference is empty.
	Branch string
	// Tag to check out.
	Tag string
	// SemVer is a constraint (github.com/Masterminds/semver syntax); the
	// highest tag satisfying it is checked out.
	SemVer string
	// Name is a full reference name such as "refs/pull/1/head".
	Name string
	// Commit is a full 40-hex SHA-1 commit hash.
	Commit string
}

// refKind is the field of a Reference that decides what is fetched.
type refKind int

const (
	kindBranch refKind = iota
	kindTag
	kindSemVer
	kindName
	kindCommit
)

func (r Reference) kind() refKind {
	switch {
	case r.Commit != "":
		return kindCommit
	case r.Name != "":
		return kindName
	case r.SemVer != "":
		return kindSemVer
	case r.Tag != "":
		return kindTag
	default:
		return kindBranch
	}
}

func (r Reference) branch() string {
	if r.Branch == "" {
		return DefaultBranch
	}
	return r.Branch
}

// String describes the reference for messages, e.g. "branch 'main'".
func (r Reference) String() string {
	switch r.kind() {
	case kindCommit:
		if r.Branch != "" {
			return fmt.Sprintf("commit '%s' on branch '%s'", r.Commit, r.Branch)
		}
		return fmt.Sprintf("commit '%s'", r.Commit)
	case kindName:
		return fmt.Sprintf("ref '%s'", r.Name)
	case kindSemVer:
		return fmt.Sprintf("semver '%s'", r.SemVer)
	case kindTag:
		return fmt.Sprintf("tag '%s'", r.Tag)
	default:
		return fmt.Sprintf("branch '%s'", r.branch())
	}
}

var fullHash = regexp.MustCompile(`^[0-9a-f]{40}$`)

// validate checks the fields that are used, without I/O.
func (r Reference) validate() error {
	switch r.kind() {
	case kindCommit:
		if !fullHash.MatchString(r.Commit) {
			return fmt.Errorf("%w: commit %q is not a full 40-character SHA-1", ErrReferenceNotFound, r.Commit)
		}
	case kindName:
		if !strings.HasPrefix(r.Name, "refs/") || strings.Contains(r.Name, "..") || strings.HasSuffix(r.Name, "/") {
			return fmt.Errorf("%w: ref name %q must be a full reference such as refs/heads/main", ErrReferenceNotFound, r.Name)
		}
	}
	return nil
}

// Revision is a resolved reference: the commit a reference pointed at and
// how Flux names it.
type Revision struct {
	// Name is the reference part of the revision string: the branch or tag
	// name, the full ref for Reference.Name, or empty for a bare commit.
	Name string
	// Ref is the full remote reference the commit was read from, empty for
	// a bare commit.
	Ref string
	// Hash is the 40-hex SHA-1 of the commit.
	Hash string
}

// String returns the revision in Flux's format: "main@sha1:<hex>",
// "v1.2.0@sha1:<hex>", "refs/pull/1/head@sha1:<hex>" or "sha1:<hex>".
func (r Revision) String() string {
	if r.Name == "" {
		return "sha1:" + r.Hash
	}
	return r.Name + "@sha1:" + r.Hash
}

// IsTag reports whether the revision was resolved from a tag.
func (r Revision) IsTag() bool { return strings.HasPrefix(r.Ref, "refs/tags/") }
