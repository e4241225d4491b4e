package build

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"sync"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/kustomize/api/konfig"
	"sigs.k8s.io/kustomize/api/krusty"
	kustypes "sigs.k8s.io/kustomize/api/types"
	"sigs.k8s.io/yaml"

	"github.com/weirgitops/weir/internal/safeyaml"
)

// Per-object annotations (or labels) honoured by the build, as in Flux.
const (
	// SubstituteKey set to "disabled" skips post-build substitution.
	SubstituteKey = "kustomize.toolkit.fluxcd.io/substitute"
	// DecryptKey set to "disabled" skips SOPS decryption.
	DecryptKey = "kustomize.toolkit.fluxcd.io/decrypt"
)

// ErrRemoteBase is returned (wrapped) when a kustomization refers to a remote
// base while Options.NoRemoteBases is set.
var ErrRemoteBase = errors.New("remote bases are not allowed")

// Options configure Build.
type Options struct {
	// Overrides are the Kustomization's spec overrides.
	Overrides Overrides
	// NoRemoteBases refuses kustomizations that refer to remote bases or
	// resources (git or HTTP URLs).
	NoRemoteBases bool
	// Decryptor, when set, decrypts SOPS-encrypted secretGenerator sources
	// and patches before the build, and encrypted objects after it.
	Decryptor *Decryptor
	// Inputs, when set, receives what the build read, so that a later revision can be
	// checked for changes without building it.
	Inputs *Inputs
	// Decrypted, when set, receives every value SOPS decrypted, so that the caller can keep
	// them out of messages about the objects.
	Decrypted *[]string
	// Ignore, when set, leaves out of a generated kustomization the files and directories
	// (slash-separated, relative to the build root) it reports.
	Ignore func(path string, dir bool) bool
}

// kustomizeMu serialises krusty runs: kustomize has known data races on
// shared maps when builds run concurrently (kubernetes-sigs/kustomize#3659).
var kustomizeMu sync.Mutex

// Build builds the kustomization at path (relative to root, the artifact
// directory) into objects: the kustomization.yaml is generated when missing,
// the overrides are written into it, kustomize runs confined to root, SOPS
// data is decrypted when a Decryptor is given, commonMetadata is stamped and
// every object is validated. Substitution is a separate step (Substitute).
func Build(ctx context.Context, root, path string, opts Options) ([]*unstructured.Unstructured, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	c, err := newConfinedFS(root)
	if err != nil {
		return nil, err
	}
	if filepath.IsAbs(path) {
		return nil, fmt.Errorf("kustomization path %q must be relative to the artifact root", path)
	}
	dir, err := c.resolve(filepath.Join(c.root, path))
	if err != nil {
		return nil, fmt.Errorf("kustomization path %q: %w", path, err)
	}
	if !c.disk.IsDir(dir) {
		return nil, fmt.Errorf("kustomization path %q not found", path)
	}
	secrets := &secretSet{}
	hook := &readHook{ctx: ctx, fs: c, dec: opts.Decryptor, noRemote: opts.NoRemoteBases, secrets: secrets,
		sources: map[string]sopsFormat{}, checked: map[[sha256.Size]byte]struct{}{}}
	c.onRead = hook.read
	c.ignore = opts.Ignore
	c.allowTemp = !opts.NoRemoteBases
	if opts.Inputs != nil {
		c.touched = map[string]struct{}{}
		defer func() { opts.Inputs.record(c, path) }()
	}

	if err := prepareKustomization(c, dir, opts.Overrides); err != nil {
		if hook.err != nil {
			// The hook refused a file and names it.
			err = hook.err
		}
		return nil, fmt.Errorf("kustomization %q: %w", path, rootRelative{secrets.scrub(err), c.root})
	}
	objs, err := runKustomize(c, dir)
	if hook.err != nil {
		// kustomize may hide why a file could not be read; report it.
		err = hook.err
	}
	if err != nil {
		return nil, fmt.Errorf("kustomize build %q: %w", path, rootRelative{secrets.scrub(err), c.root})
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	for _, obj := range objs {
		if opts.Decryptor != nil {
			if err := opts.Decryptor.decryptObject(ctx, obj, secrets); err != nil {
				return nil, err
			}
		}
		applyCommonMetadata(obj, opts.Overrides)
	}
	if err := Validate(objs); err != nil {
		return nil, secrets.scrub(err)
	}
	if opts.Decrypted != nil {
		for v := range secrets.values {
			*opts.Decrypted = append(*opts.Decrypted, v)
		}
	}
	return objs, nil
}

// rootRelative names the artifact's files from its root: the directory the controller
// unpacked it into says nothing to the reader and changes with every revision.
type rootRelative struct {
	err  error
	root string
}

func (e rootRelative) Error() string {
	return strings.ReplaceAll(e.err.Error(), e.root+string(filepath.Separator), "")
}
func (e rootRelative) Unwrap() error { return e.err }

// runKustomize runs krusty over the confined file system, builtins only,
// without load restrictions inside the root, recovering kustomize panics.
func runKustomize(c *confinedFS, dir string) (objs []*unstructured.Unstructured, err error) {
	kustomizeMu.Lock()
	defer kustomizeMu.Unlock()
	if c.allowTemp {
		c.preexisting = cloneDirs()
	}
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("recovered from kustomize panic: %v", r)
		}
	}()
	k := krusty.MakeKustomizer(&krusty.Options{
		LoadRestrictions: kustypes.LoadRestrictionsNone,
		PluginConfig:     kustypes.DisabledPluginConfig(),
	})
	m, err := k.Run(c, dir)
	if err != nil {
		return nil, err
	}
	for _, res := range m.Resources() {
		data, err := res.MarshalJSON()
		if err != nil {
			return nil, fmt.Errorf("encode %s: %w", res.CurId(), err)
		}
		obj := &unstructured.Unstructured{}
		if err := obj.UnmarshalJSON(data); err != nil {
			return nil, fmt.Errorf("decode %s: %w", res.CurId(), err)
		}
		objs = append(objs, obj)
	}
	return objs, nil
}

// readHook inspects every file kustomize reads: every file, and every
// decrypted file, must pass safeyaml.Check before anything parses it;
// kustomization files are checked for remote bases and their SOPS-encrypted
// generator sources and patches are recorded; recorded sources are decrypted
// when read.
//
// Generator sources are checked too: the file system cannot tell a read for
// a configMapGenerator from a read for a resource, patch or replacement of
// the same file, and a data file that fails the limits cannot be a
// ConfigMap anyway.
type readHook struct {
	// ctx bounds the key services' requests of decryption.
	ctx      context.Context
	fs       *confinedFS
	dec      *Decryptor
	noRemote bool
	secrets  *secretSet
	// sources maps resolved paths to the format they are decrypted with.
	sources map[string]sopsFormat
	// checked holds the digests of the contents that passed safeyaml.Check,
	// so that a file read again (by the generator, then kustomize) is not
	// scanned again.
	checked map[[sha256.Size]byte]struct{}
	// err is the first error the hook raised.
	err error
}

func (h *readHook) read(path string, data []byte) ([]byte, error) {
	out, err := h.transform(path, data)
	if err != nil && h.err == nil {
		h.err = err
	}
	return out, err
}

func (h *readHook) transform(path string, data []byte) ([]byte, error) {
	if err := h.check(path, data); err != nil {
		return nil, err
	}
	base := filepath.Base(path)
	for _, name := range konfig.RecognizedKustomizationFileNames() {
		if base == name {
			return data, h.kustomization(path, data)
		}
	}
	if h.dec == nil {
		return data, nil
	}
	out, ok := h.sources[path]
	if !ok {
		return data, nil
	}
	in := detectEncrypted(data)
	if in == formatNone {
		return data, nil
	}
	plain, err := h.dec.decryptFile(h.ctx, data, in, out, h.secrets)
	if err != nil {
		return nil, fmt.Errorf("decrypt %s: %w", h.fs.rel(path), err)
	}
	// Not remembered in checked: no digest of plaintext is kept.
	if err := safeyaml.Check(plain, safeyaml.DefaultLimits()); err != nil {
		return nil, fmt.Errorf("decrypted %s: %w", h.fs.rel(path), err)
	}
	return plain, nil
}

// check refuses data, the contents of the file at path, when decoding it as
// YAML would exceed safeyaml.DefaultLimits: an alias bomb, a too deeply
// nested or too large file. Data that is not YAML passes.
func (h *readHook) check(path string, data []byte) error {
	sum := sha256.Sum256(data)
	if _, ok := h.checked[sum]; ok {
		return nil
	}
	if err := safeyaml.Check(data, safeyaml.DefaultLimits()); err != nil {
		return fmt.Errorf("%s: %w", h.fs.rel(path), err)
	}
	h.checked[sum] = struct{}{}
	return nil
}

// kustomization inspects the kustomization file at path; data has passed
// check.
func (h *readHook) kustomization(path string, data []byte) error {
	var kus kustypes.Kustomization
	if err := yaml.Unmarshal(data, &kus); err != nil {
		// Let kustomize report the syntax error with its own context.
		return nil //nolint:nilerr // kustomize reports it, with better context
	}
	dir := filepath.Dir(path)
	refs := append(append(append([]string(nil), kus.Resources...), kus.Components...), kus.Bases...) //nolint:staticcheck // Bases is still read by kustomize.
	for _, ref := range refs {
		if localRemote(ref) {
			// git would read a repository from the controller's own file system.
			return fmt.Errorf("%s: %q: the file protocol reads outside the artifact: %w", h.fs.rel(path), ref, ErrOutsideRoot)
		}
		if h.noRemote && looksRemote(ref) && !h.fs.Exists(filepath.Join(dir, ref)) {
			return fmt.Errorf("%s: %q: %w", h.fs.rel(path), ref, ErrRemoteBase)
		}
	}
	if h.dec == nil {
		return nil
	}
	record := func(ref string, f sopsFormat) {
		if ref == "" || filepath.IsAbs(ref) || strings.Contains(ref, "://") {
			return
		}
		if r, err := h.fs.resolve(filepath.Join(dir, ref)); err == nil {
			h.sources[r] = f
		}
	}
	for _, g := range kus.SecretGenerator {
		for _, src := range g.FileSources {
			key, file, ok := strings.Cut(src, "=")
			if !ok {
				file = key
			}
			record(file, formatForPath(key))
		}
		for _, env := range g.EnvSources {
			f := formatForPath(env)
			if f == formatBinary {
				f = formatDotenv
			}
			record(env, f)
		}
	}
	for _, p := range kus.Patches {
		record(p.Path, formatForPath(p.Path))
	}
	return nil
}

// applyCommonMetadata stamps commonMetadata labels and annotations on obj,
// overriding existing keys.
func applyCommonMetadata(obj *unstructured.Unstructured, o Overrides) {
	if o.CommonMetadata == nil {
		return
	}
	if len(o.CommonMetadata.Labels) > 0 {
		labels := obj.GetLabels()
		if labels == nil {
			labels = map[string]string{}
		}
		for k, v := range o.CommonMetadata.Labels {
			labels[k] = v
		}
		obj.SetLabels(labels)
	}
	if len(o.CommonMetadata.Annotations) > 0 {
		annotations := obj.GetAnnotations()
		if annotations == nil {
			annotations = map[string]string{}
		}
		for k, v := range o.CommonMetadata.Annotations {
			annotations[k] = v
		}
		obj.SetAnnotations(annotations)
	}
}

// hasFlag reports whether obj carries key as a label or annotation with the
// given value (case-insensitive), as Flux reads its per-object switches.
func hasFlag(obj *unstructured.Unstructured, key, value string) bool {
	if v, ok := obj.GetAnnotations()[key]; ok && strings.EqualFold(v, value) {
		return true
	}
	if v, ok := obj.GetLabels()[key]; ok && strings.EqualFold(v, value) {
		return true
	}
	return false
}
