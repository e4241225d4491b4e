package health

import (
	"fmt"
	"sort"

	"github.com/fluxcd/pkg/apis/meta"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// Wildcard in a health check name or namespace matches every applied object
// (a weir improvement over Flux).
const Wildcard = "*"

// ObjectID identifies an applied object, as an inventory entry does.
type ObjectID struct {
	Group     string
	Version   string
	Kind      string
	Namespace string
	Name      string
}

// String renders the ID as Flux does in messages: Kind/namespace/name, or
// Kind/name for cluster-scoped objects.
func (id ObjectID) String() string {
	if id.Namespace != "" {
		return fmt.Sprintf("%s/%s/%s", id.Kind, id.Namespace, id.Name)
	}
	return fmt.Sprintf("%s/%s", id.Kind, id.Name)
}

// APIVersion renders group/version ("v1" for the core group).
func (id ObjectID) APIVersion() string {
	return schema.GroupVersion{Group: id.Group, Version: id.Version}.String()
}

// ExpandChecks turns healthChecks references into concrete objects.
//
// A name or namespace of "*" expands to every applied object of the entry's
// group and kind (in that namespace, or in any). An entry without a namespace
// means defaultNamespace (the Kustomization's), except that an applied
// cluster-scoped object of that kind and name is taken as is. Entries
// without wildcards are returned even when not applied (the health check
// then reports them NotFound, as Flux does). The result has no duplicates
// and keeps the order of the entries, expansions sorted.
func ExpandChecks(checks []meta.NamespacedObjectKindReference, applied []ObjectID, defaultNamespace string) ([]ObjectID, error) {
	var out []ObjectID
	seen := map[ObjectID]bool{}
	add := func(id ObjectID) {
		if !seen[id] {
			seen[id] = true
			out = append(out, id)
		}
	}
	for i, c := range checks {
		gv, err := schema.ParseGroupVersion(c.APIVersion)
		if err != nil {
			return nil, fmt.Errorf("healthChecks[%d]: apiVersion %q: %w", i, c.APIVersion, err)
		}
		if c.Kind == "" || c.Name == "" {
			return nil, fmt.Errorf("healthChecks[%d]: kind and name are required", i)
		}
		if c.Name != Wildcard && c.Namespace != Wildcard {
			add(resolveOne(gv, c, applied, defaultNamespace))
			continue
		}
		var matches []ObjectID
		for _, a := range applied {
			if a.Group != gv.Group || a.Kind != c.Kind {
				continue
			}
			if c.Name != Wildcard && a.Name != c.Name {
				continue
			}
			switch c.Namespace {
			case Wildcard:
			case "":
				if a.Namespace != defaultNamespace && a.Namespace != "" {
					continue
				}
			default:
				if a.Namespace != c.Namespace {
					continue
				}
			}
			matches = append(matches, a)
		}
		sort.Slice(matches, func(i, j int) bool {
			if matches[i].Namespace != matches[j].Namespace {
				return matches[i].Namespace < matches[j].Namespace
			}
			return matches[i].Name < matches[j].Name
		})
		for _, m := range matches {
			add(m)
		}
	}
	return out, nil
}

func resolveOne(gv schema.GroupVersion, c meta.NamespacedObjectKindReference, applied []ObjectID, defaultNamespace string) ObjectID {
	id := ObjectID{Group: gv.Group, Version: gv.Version, Kind: c.Kind, Namespace: c.Namespace, Name: c.Name}
	if id.Namespace != "" {
		return id
	}
	for _, a := range applied {
		if a.Group == id.Group && a.Kind == id.Kind && a.Name == id.Name && a.Namespace == "" {
			return id
		}
	}
	id.Namespace = defaultNamespace
	return id
}
