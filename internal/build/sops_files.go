package build

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"path/filepath"
	"sort"
	"strings"

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

// DecryptFile decrypts a SOPS-encrypted file, choosing the output format from
// the name; data that is not SOPS-encrypted is returned unchanged. Errors name
// the file and never contain decrypted values.
func (d *Decryptor) DecryptFile(ctx context.Context, name string, data []byte) ([]byte, error) {
	out, err := d.decryptFile(ctx, data, detectEncrypted(data), formatForPath(name), nil)
	if err != nil {
		return nil, fmt.Errorf("decrypt %s: %w", name, err)
	}
	return out, nil
}

func (d *Decryptor) decryptFile(ctx context.Context, data []byte, in, out sopsFormat, secrets *secretSet) ([]byte, error) {
	if in == formatNone {
		return data, nil
	}
	switch {
	case in == formatBinary:
		// A binary file is a JSON envelope holding the data; its plain form
		// is the data, whatever the name says.
		out = formatBinary
	case out == formatBinary:
		// A structured file under a name without a known extension keeps
		// its own format (SOPS' binary store would refuse it).
		out = in
	}
	return d.decrypt(ctx, data, in, out, secrets, d.VerifyMAC)
}

// DecryptObject decrypts obj in place when it is SOPS-encrypted as a whole
// (it has a top-level "sops" field), or when it is a Secret whose data values
// are SOPS-encrypted files (secretGenerator output). Objects annotated or
// labelled kustomize.toolkit.fluxcd.io/decrypt: disabled are left alone.
// The error names the object and never contains decrypted values.
func (d *Decryptor) DecryptObject(ctx context.Context, obj *unstructured.Unstructured) error {
	return d.decryptObject(ctx, obj, nil)
}

func (d *Decryptor) decryptObject(ctx context.Context, obj *unstructured.Unstructured, secrets *secretSet) error {
	if hasFlag(obj, DecryptKey, "disabled") {
		return nil
	}
	if _, ok := obj.Object["sops"]; ok {
		// Decrypted right before apply: comments and key order need not
		// survive, so the object goes through SOPS' JSON store.
		data, err := obj.MarshalJSON()
		if err != nil {
			return fmt.Errorf("decrypt %s: %w", ObjectRef(obj), err)
		}
		plain, err := d.decrypt(ctx, data, formatJSON, formatJSON, secrets, false)
		if err != nil {
			return fmt.Errorf("failed to decrypt and format %s: %w", ObjectRef(obj), err)
		}
		var decoded map[string]any
		if err := json.Unmarshal(plain, &decoded); err != nil {
			return fmt.Errorf("failed to decode decrypted %s", ObjectRef(obj))
		}
		obj.Object = decoded
		return nil
	}
	if obj.GetKind() != "Secret" || obj.GetAPIVersion() != "v1" {
		return nil
	}
	data, ok := obj.Object["data"].(map[string]any)
	if !ok {
		return nil
	}
	keys := make([]string, 0, len(data))
	for k := range data {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		s, ok := data[k].(string)
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
		out, err := d.decryptFile(ctx, raw, in, formatForPath(k), secrets)
		if err != nil {
			return fmt.Errorf("failed to decrypt and format %s Secret field %q: %w", ObjectRef(obj), k, err)
		}
		secrets.add(string(out))
		data[k] = base64.StdEncoding.EncodeToString(out)
	}
	return nil
}
