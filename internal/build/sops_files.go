package build

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"strconv"
	"strings"

	yamlv3 "go.yaml.in/yaml/v3"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// sopsFormat is a SOPS file format.
type sopsFormat int

const (
	formatNone sopsFormat = iota
	formatBinary
	formatDotenv
	formatINI
	formatJSON
	formatYAML
)

func (f sopsFormat) String() string {
	return [...]string{"none", "binary", "dotenv", "INI", "JSON", "YAML"}[f]
}

// formatForPath picks the format from a file name, as SOPS and Flux do.
func formatForPath(name string) sopsFormat {
	switch strings.ToLower(filepath.Ext(name)) {
	case ".yaml", ".yml":
		return formatYAML
	case ".json":
		return formatJSON
	case ".env":
		return formatDotenv
	case ".ini":
		return formatINI
	}
	return formatBinary
}

// detectEncrypted returns the format of SOPS-encrypted data from its marker
// bytes, or formatNone when data is not SOPS-encrypted.
func detectEncrypted(data []byte) sopsFormat {
	switch {
	case bytes.Contains(data, []byte("sops_mac=ENC[")):
		return formatDotenv
	case bytes.Contains(data, []byte(`"mac": "ENC[`)):
		if !bytes.HasPrefix(bytes.TrimSpace(data), []byte("{")) {
			return formatYAML
		}
		var m map[string]json.RawMessage
		if json.Unmarshal(data, &m) == nil && len(m) == 2 && m["data"] != nil && m["sops"] != nil {
			return formatBinary
		}
		return formatJSON
	case bytes.Contains(data, []byte("mac: ENC[")):
		return formatYAML
	case bytes.Contains(data, []byte("[sops]")):
		return formatINI
	}
	return formatNone
}

// DecryptFile decrypts a SOPS-encrypted file, choosing the format from the
// name; data that is not SOPS-encrypted is returned unchanged. Errors name
// the file and never contain decrypted values.
func (d *Decryptor) DecryptFile(name string, data []byte) ([]byte, error) {
	out, err := d.decryptFile(data, detectEncrypted(data), formatForPath(name), nil)
	if err != nil {
		return nil, fmt.Errorf("decrypt %s: %w", name, err)
	}
	return out, nil
}

func (d *Decryptor) decryptFile(data []byte, in, out sopsFormat, secrets *secretSet) ([]byte, error) {
	if in == formatNone {
		return data, nil
	}
	if len(data) > maxEncryptedSize {
		return nil, fmt.Errorf("encrypted data exceeds %d bytes", maxEncryptedSize)
	}
	switch in {
	case formatDotenv:
		return d.decryptLines(data, false, secrets)
	case formatINI:
		return d.decryptLines(data, true, secrets)
	default:
		return d.decryptDocument(data, in, out, secrets)
	}
}

// decryptDocument decrypts YAML, JSON and binary (JSON envelope) files.
func (d *Decryptor) decryptDocument(data []byte, in, out sopsFormat, secrets *secretSet) ([]byte, error) {
	var doc yamlv3.Node
	if err := yamlv3.Unmarshal(data, &doc); err != nil {
		return nil, fmt.Errorf("load encrypted %s data: %w", in, err)
	}
	if doc.Kind != yamlv3.DocumentNode || len(doc.Content) != 1 || doc.Content[0].Kind != yamlv3.MappingNode {
		return nil, fmt.Errorf("load encrypted %s data: not a mapping", in)
	}
	root := doc.Content[0]
	var section *yamlv3.Node
	content := make([]*yamlv3.Node, 0, len(root.Content))
	for i := 0; i+1 < len(root.Content); i += 2 {
		if root.Content[i].Value == "sops" {
			section = root.Content[i+1]
			continue
		}
		content = append(content, root.Content[i], root.Content[i+1])
	}
	if section == nil {
		return nil, errors.New("sops metadata not found")
	}
	var raw any
	if err := section.Decode(&raw); err != nil {
		return nil, fmt.Errorf("invalid sops metadata: %w", err)
	}
	md, err := parseMetadata(raw)
	if err != nil {
		return nil, err
	}
	key, err := d.dataKey(md)
	if err != nil {
		return nil, err
	}
	root.Content = content
	t := newTreeDecrypter(md, key, secrets)
	if err := t.node(root, nil); err != nil {
		return nil, err
	}
	if d.VerifyMAC {
		if err := checkMAC(md, key, t.hash.(interface{ Sum([]byte) []byte }).Sum(nil)); err != nil {
			return nil, err
		}
	}
	if in == formatBinary {
		for i := 0; i+1 < len(root.Content); i += 2 {
			if root.Content[i].Value == "data" {
				return []byte(root.Content[i+1].Value), nil
			}
		}
		return nil, errors.New("binary envelope has no data")
	}
	switch out {
	case formatJSON:
		var v any
		if err := root.Decode(&v); err != nil {
			return nil, errors.New("emit decrypted JSON: invalid tree")
		}
		b, err := json.MarshalIndent(v, "", "\t")
		if err != nil {
			return nil, errors.New("emit decrypted JSON: invalid tree")
		}
		return append(b, '\n'), nil
	default:
		var buf bytes.Buffer
		enc := yamlv3.NewEncoder(&buf)
		enc.SetIndent(4)
		if err := enc.Encode(root); err != nil {
			return nil, errors.New("emit decrypted YAML: invalid tree")
		}
		return buf.Bytes(), nil
	}
}

// node decrypts a YAML node tree in document order.
func (t *treeDecrypter) node(n *yamlv3.Node, path []string) error {
	n.HeadComment, n.LineComment, n.FootComment = "", "", ""
	switch n.Kind {
	case yamlv3.MappingNode:
		for i := 0; i+1 < len(n.Content); i += 2 {
			k := n.Content[i]
			k.HeadComment, k.LineComment, k.FootComment = "", "", ""
			if err := t.node(n.Content[i+1], append(append([]string(nil), path...), k.Value)); err != nil {
				return err
			}
		}
	case yamlv3.SequenceNode:
		for _, c := range n.Content {
			if err := t.node(c, path); err != nil {
				return err
			}
		}
	case yamlv3.ScalarNode:
		var v any
		switch n.ShortTag() {
		case "!!null":
			return nil
		case "!!int":
			i, err := strconv.ParseInt(n.Value, 0, 64)
			if err != nil {
				v = n.Value
			} else {
				v = i
			}
		case "!!float":
			f, err := strconv.ParseFloat(n.Value, 64)
			if err != nil {
				v = n.Value
			} else {
				v = f
			}
		case "!!bool":
			b, _ := strconv.ParseBool(strings.ToLower(n.Value))
			v = b
		default:
			v = n.Value
		}
		out, err := t.leaf(v, path)
		if err != nil {
			return err
		}
		setScalar(n, out)
	case yamlv3.AliasNode:
		return errors.New("YAML aliases are not supported in encrypted data")
	}
	return nil
}

func setScalar(n *yamlv3.Node, v any) {
	n.Style = 0
	switch v := v.(type) {
	case int64:
		n.Tag, n.Value = "!!int", strconv.FormatInt(v, 10)
	case float64:
		n.Tag, n.Value = "!!float", strconv.FormatFloat(v, 'f', -1, 64)
	case bool:
		n.Tag, n.Value = "!!bool", strconv.FormatBool(v)
	case string:
		n.Tag, n.Value = "!!str", v
	}
}

// decryptLines decrypts dotenv (KEY=VALUE) or INI files, whose metadata is
// flattened into sops_-prefixed keys or a [sops] section.
func (d *Decryptor) decryptLines(data []byte, ini bool, secrets *secretSet) ([]byte, error) {
	type item struct{ section, key, value string }
	var items []item
	flat := map[string]any{}
	section := "DEFAULT"
	for _, line := range strings.Split(string(data), "\n") {
		trimmed := strings.TrimSpace(line)
		if trimmed == "" || strings.HasPrefix(trimmed, "#") || (ini && strings.HasPrefix(trimmed, ";")) {
			continue
		}
		if ini && strings.HasPrefix(trimmed, "[") && strings.HasSuffix(trimmed, "]") {
			section = strings.TrimSpace(trimmed[1 : len(trimmed)-1])
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		if !ok {
			return nil, errors.New("load encrypted data: line without '='")
		}
		if ini {
			k, v = strings.TrimSpace(k), strings.TrimSpace(v)
		}
		switch {
		case ini && section == "sops":
			flat[k] = strings.ReplaceAll(v, `\n`, "\n")
		case !ini && strings.HasPrefix(k, "sops_"):
			flat[strings.TrimPrefix(k, "sops_")] = strings.ReplaceAll(v, `\n`, "\n")
		default:
			items = append(items, item{section, k, v})
		}
	}
	md, err := parseMetadata(unflatten(flat))
	if err != nil {
		return nil, err
	}
	key, err := d.dataKey(md)
	if err != nil {
		return nil, err
	}
	t := newTreeDecrypter(md, key, secrets)
	var buf bytes.Buffer
	current := ""
	for _, it := range items {
		path := []string{it.key}
		if ini {
			path = []string{it.section, it.key}
		}
		v, err := t.leaf(it.value, path)
		if err != nil {
			return nil, err
		}
		s := fmt.Sprint(v)
		if b, ok := v.(bool); ok {
			s = strconv.FormatBool(b)
		}
		if ini {
			if it.section != current {
				if current != "" {
					buf.WriteString("\n")
				}
				fmt.Fprintf(&buf, "[%s]\n", it.section)
				current = it.section
			}
			fmt.Fprintf(&buf, "%s = %s\n", it.key, s)
		} else {
			fmt.Fprintf(&buf, "%s=%s\n", it.key, strings.ReplaceAll(s, "\n", `\n`))
		}
	}
	if d.VerifyMAC {
		if err := checkMAC(md, key, t.hash.(interface{ Sum([]byte) []byte }).Sum(nil)); err != nil {
			return nil, err
		}
	}
	return buf.Bytes(), nil
}

// unflatten rebuilds the metadata tree from SOPS' flattened keys
// (age__list_0__map_enc → age[0].enc).
func unflatten(flat map[string]any) map[string]any {
	root := map[string]any{}
	for k, v := range flat {
		parts := splitFlatKey(k)
		var cur any = root
		for i, p := range parts {
			last := i == len(parts)-1
			switch c := cur.(type) {
			case map[string]any:
				if last {
					c[p.key] = v
					break
				}
				if _, ok := c[p.key]; !ok {
					if parts[i+1].list {
						c[p.key] = map[int]any{}
					} else {
						c[p.key] = map[string]any{}
					}
				}
				cur = c[p.key]
			case map[int]any:
				if last {
					c[p.index] = v
					break
				}
				if _, ok := c[p.index]; !ok {
					if parts[i+1].list {
						c[p.index] = map[int]any{}
					} else {
						c[p.index] = map[string]any{}
					}
				}
				cur = c[p.index]
			}
		}
	}
	return listify(root).(map[string]any)
}

type flatPart struct {
	key   string
	index int
	list  bool
}

func splitFlatKey(k string) []flatPart {
	var parts []flatPart
	first, rest, _ := strings.Cut(k, "__")
	parts = append(parts, flatPart{key: first})
	if rest == "" {
		return parts
	}
	rest = "__" + rest
	for rest != "" {
		switch {
		case strings.HasPrefix(rest, "__map_"):
			rest = rest[len("__map_"):]
			name, tail, _ := strings.Cut(rest, "__")
			parts = append(parts, flatPart{key: name})
			rest = prefixed(tail)
		case strings.HasPrefix(rest, "__list_"):
			rest = rest[len("__list_"):]
			num, tail, _ := strings.Cut(rest, "__")
			i, _ := strconv.Atoi(num)
			parts = append(parts, flatPart{index: i, list: true})
			rest = prefixed(tail)
		default:
			parts[len(parts)-1].key += rest
			rest = ""
		}
	}
	return parts
}

func prefixed(tail string) string {
	if tail == "" {
		return ""
	}
	return "__" + tail
}

func listify(v any) any {
	switch v := v.(type) {
	case map[string]any:
		for k, c := range v {
			v[k] = listify(c)
		}
		return v
	case map[int]any:
		n := 0
		for i := range v {
			if i+1 > n {
				n = i + 1
			}
		}
		if n > 1024 {
			n = 1024
		}
		out := make([]any, n)
		for i, c := range v {
			if i >= 0 && i < n {
				out[i] = listify(c)
			}
		}
		return out
	}
	return v
}

// DecryptObject decrypts obj in place when it is SOPS-encrypted as a whole
// (it has a top-level "sops" field), or when it is a Secret whose data values
// are SOPS-encrypted files (secretGenerator output). Objects annotated or
// labelled kustomize.toolkit.fluxcd.io/decrypt: disabled are left alone.
// The error names the object and never contains decrypted values.
func (d *Decryptor) DecryptObject(obj *unstructured.Unstructured) error {
	return d.decryptObject(obj, nil)
}

func (d *Decryptor) decryptObject(obj *unstructured.Unstructured, secrets *secretSet) error {
	if hasFlag(obj, DecryptKey, "disabled") {
		return nil
	}
	if section, ok := obj.Object["sops"]; ok {
		md, err := parseMetadata(section)
		if err != nil {
			return fmt.Errorf("decrypt %s: %w", ObjectRef(obj), err)
		}
		key, err := d.dataKey(md)
		if err != nil {
			return fmt.Errorf("decrypt %s: %w", ObjectRef(obj), err)
		}
		delete(obj.Object, "sops")
		t := newTreeDecrypter(md, key, secrets)
		if _, err := t.walk(obj.Object, nil); err != nil {
			return fmt.Errorf("decrypt %s: %w", ObjectRef(obj), err)
		}
		return nil
	}
	if obj.GetKind() != "Secret" || obj.GetAPIVersion() != "v1" {
		return nil
	}
	data, ok := obj.Object["data"].(map[string]any)
	if !ok {
		return nil
	}
	for k, v := range data {
		s, ok := v.(string)
		if !ok {
			continue
		}
		raw, err := base64.StdEncoding.DecodeString(s)
		if err != nil {
			continue
		}
		in := detectEncrypted(raw)
		if in == formatNone {
			continue
		}
		out, err := d.decryptFile(raw, in, formatForPath(k), secrets)
		if err != nil {
			return fmt.Errorf("decrypt %s data %q: %w", ObjectRef(obj), k, err)
		}
		secrets.add(string(out))
		data[k] = base64.StdEncoding.EncodeToString(out)
	}
	return nil
}
