package cli

import (
	"encoding/json"
	"fmt"
	"io"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/yaml"
)

// printObjects prints objects as JSON or YAML: one object alone when single is set, else a
// v1 List.
func printObjects(w io.Writer, format string, objs []*unstructured.Unstructured, single bool) error {
	var v any
	if single && len(objs) == 1 {
		v = objs[0].Object
	} else {
		items := make([]any, 0, len(objs))
		for _, o := range objs {
			items = append(items, o.Object)
		}
		v = map[string]any{"apiVersion": "v1", "kind": "List", "items": items}
	}
	switch format {
	case "json":
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(v)
	case "yaml":
		data, err := yaml.Marshal(v)
		if err != nil {
			return fmt.Errorf("encode yaml: %w", err)
		}
		_, err = w.Write(data)
		return err
	default:
		return fmt.Errorf("unknown output format %q: use json or yaml", format)
	}
}

// printYAMLDocs prints each object as a `---` separated YAML document, as flux's --export does.
func printYAMLDocs(w io.Writer, objs []map[string]any) error {
	for _, o := range objs {
		data, err := yaml.Marshal(o)
		if err != nil {
			return fmt.Errorf("encode yaml: %w", err)
		}
		if _, err := fmt.Fprintf(w, "---\n%s", data); err != nil {
			return err
		}
	}
	return nil
}
