package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"time"

	"github.com/Masterminds/semver/v3"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/spf13/cobra"
	"sigs.k8s.io/yaml"

	"github.com/weirgitops/weir/internal/artifact"
	"github.com/weirgitops/weir/internal/source/git"
	"github.com/weirgitops/weir/internal/source/oci"
)

// defaultIgnorePaths are flux's: version control files and binary or archive files.
var defaultIgnorePaths = []string{".git/", ".gitignore", ".gitmodules", ".gitattributes",
	"*.jpg", "*.jpeg", "*.gif", "*.png", "*.wmv", "*.flv", "*.tar.gz", "*.zip"}

// registryFlags are the flags every artifact command shares, as flux has them.
type registryFlags struct {
	creds    string
	provider string
	insecure bool
}

func (f *registryFlags) register(cmd *cobra.Command) {
	cmd.Flags().StringVar(&f.creds, "creds", "", "credentials for OCI registry in the format <username>[:<password>] if --provider is generic")
	cmd.Flags().StringVar(&f.provider, "provider", "generic", "the OCI provider name, available options are: (generic)")
	cmd.Flags().BoolVar(&f.insecure, "insecure-registry", false, "allows artifacts to be pushed and pulled from registries without TLS")
}

// options returns the registry options: --creds for the artifact's registry, else the
// Docker config file ($DOCKER_CONFIG/config.json or ~/.docker/config.json).
func (f *registryFlags) options(ref name.Reference) (oci.Options, error) {
	if f.provider != "" && f.provider != "generic" {
		return oci.Options{}, fmt.Errorf("provider '%s' is not supported by weir: use 'generic' with --creds or a Docker config file", f.provider)
	}
	opts := oci.Options{Insecure: f.insecure, UserAgent: "weir-cli"}
	if f.creds != "" {
		user, pass, _ := strings.Cut(f.creds, ":")
		opts.Keychain = oci.Keychain{ref.Context().RegistryStr(): {Username: user, Password: pass}}
		return opts, nil
	}
	path, data := dockerConfig()
	if data == nil {
		return opts, nil
	}
	k, err := oci.ParseDockerConfig(data)
	if err != nil {
		return opts, fmt.Errorf("read %s: %w", path, err)
	}
	opts.Keychain = k
	return opts, nil
}

// dockerConfig reads the Docker config file, nil when there is none.
func dockerConfig() (string, []byte) {
	dir := os.Getenv("DOCKER_CONFIG")
	if dir == "" {
		home, err := os.UserHomeDir()
		if err != nil || home == "" {
			return "", nil
		}
		dir = filepath.Join(home, ".docker")
	}
	path := filepath.Join(dir, "config.json")
	data, err := os.ReadFile(path)
	if err != nil {
		data = nil
	}
	return path, data
}

func (f *registryFlags) parse(url string) (name.Reference, oci.Options, error) {
	ref, err := oci.ParseArtifact(url, f.insecure)
	if err != nil {
		return nil, oci.Options{}, err
	}
	opts, err := f.options(ref)
	return ref, opts, err
}

// buildArtifact packs path (a directory, a file, or "-" for stdin) as a gzip tar, leaving out
// what the ignore patterns match.
func buildArtifact(ctx context.Context, path string, ignore []string, in io.Reader) ([]byte, error) {
	if path == "" {
		return nil, errors.New("invalid path: --path is required")
	}
	dir := path
	switch fi, err := os.Stat(path); {
	case path == "-" || (err == nil && !fi.IsDir()):
		tmp, err := os.MkdirTemp("", "weir-artifact-")
		if err != nil {
			return nil, err
		}
		defer os.RemoveAll(tmp)
		var data []byte
		base := "resources.yaml"
		if path == "-" {
			if data, err = io.ReadAll(in); err != nil {
				return nil, fmt.Errorf("read stdin: %w", err)
			}
		} else {
			if data, err = os.ReadFile(path); err != nil {
				return nil, err
			}
			base = filepath.Base(path)
		}
		if err := os.WriteFile(filepath.Join(tmp, base), data, 0o644); err != nil {
			return nil, err
		}
		dir = tmp
	case err != nil:
		return nil, fmt.Errorf("invalid path '%s': %w", path, err)
	}
	var filter artifact.Filter
	if len(ignore) > 0 {
		patterns := strings.Join(ignore, "\n")
		filter = git.NewKeyFilter(nil, &patterns).Excluded
	}
	var buf bytes.Buffer
	if err := artifact.WriteTarGz(ctx, &buf, dir, filter, 0); err != nil {
		return nil, fmt.Errorf("build artifact from '%s': %w", path, err)
	}
	return buf.Bytes(), nil
}

func newPushCommand(g *globals) *cobra.Command {
	cmd := &cobra.Command{Use: "push", Short: "Push artifacts to an OCI registry"}
	var (
		rf                             registryFlags
		path, source, revision, output string
		annotations, ignore            []string
		reproducible                   bool
	)
	push := &cobra.Command{
		Use:   "artifact oci://<registry>/<repository>:<tag>",
		Short: "Push artifact",
		Long: "The push artifact command packs a local directory (or file) as a Flux artifact and pushes it to an OCI registry: " +
			"Flux's config and content media types, with org.opencontainers.image.source, .revision and .created annotations, " +
			"so that Flux's and weir's OCIRepositories both consume it.",
		Example: `  # Push the manifests of a Git checkout, recording where they come from
  weir push artifact oci://ghcr.io/org/manifests/app:$(git rev-parse --short HEAD) \
    --path="./deploy" \
    --source="$(git config --get remote.origin.url)" \
    --revision="$(git branch --show-current)@sha1:$(git rev-parse HEAD)"`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if source == "" {
				return errors.New("--source is required")
			}
			if revision == "" {
				return errors.New("--revision is required")
			}
			ref, opts, err := rf.parse(args[0])
			if err != nil {
				return err
			}
			meta := oci.Metadata{Source: source, Revision: revision, Created: time.Now().UTC().Format(time.RFC3339),
				Annotations: map[string]string{}}
			if reproducible {
				meta.Created = "1970-01-01T00:00:00Z"
			}
			for _, a := range annotations {
				k, v, ok := strings.Cut(a, "=")
				if !ok || k == "" {
					return fmt.Errorf("invalid annotation %s, must be in the format key=value", a)
				}
				meta.Annotations[k] = v
			}
			ctx, cancel := context.WithTimeout(cmd.Context(), g.timeout)
			defer cancel()
			content, err := buildArtifact(ctx, path, ignore, g.in)
			if err != nil {
				return err
			}
			if output == "" {
				fmt.Fprintf(g.out, "► pushing artifact to %s\n", ref.Context().RegistryStr()+"/"+ref.Context().RepositoryStr())
			}
			digest, err := oci.Push(ctx, ref, content, meta, opts)
			if err != nil {
				return err
			}
			repo := ref.Context().Name()
			switch output {
			case "":
				fmt.Fprintf(g.out, "✔ artifact successfully pushed to %s@%s\n", repo, digest)
				return nil
			default:
				return printStruct(g.out, output, map[string]string{
					"url": "oci://" + repo + "@" + digest.String(), "repository": repo, "tag": ref.Identifier(), "digest": digest.String(),
				})
			}
		},
	}
	rf.register(push)
	f := push.Flags()
	f.StringVarP(&path, "path", "f", "", "path to the directory (or file, or - for stdin) where the Kubernetes manifests are located")
	f.StringVar(&source, "source", "", "the source address, e.g. the Git URL")
	f.StringVar(&revision, "revision", "", "the source revision in the format '<branch|tag>@sha1:<commit-sha>'")
	f.StringArrayVarP(&annotations, "annotations", "a", nil, "set custom OCI annotations in the format '<key>=<value>'")
	f.StringSliceVar(&ignore, "ignore-paths", defaultIgnorePaths, "set paths to ignore in .gitignore format")
	f.BoolVar(&reproducible, "reproducible", false, "ensure reproducible image digests by setting the created timestamp to '1970-01-01T00:00:00Z'")
	f.StringVarP(&output, "output", "o", "", "the format in which the artifact digest should be printed, can be 'json' or 'yaml'")
	cmd.AddCommand(push)
	return cmd
}

func printStruct(w io.Writer, format string, v any) error {
	switch format {
	case "json":
		b, err := json.MarshalIndent(v, "", "  ")
		if err != nil {
			return err
		}
		_, err = fmt.Fprintln(w, string(b))
		return err
	case "yaml":
		b, err := yaml.Marshal(v)
		if err != nil {
			return err
		}
		_, err = w.Write(b)
		return err
	}
	return fmt.Errorf("invalid output format '%s', must be 'json' or 'yaml'", format)
}

func newBuildArtifactCommand(g *globals) *cobra.Command {
	var (
		path, output string
		ignore       []string
	)
	cmd := &cobra.Command{
		Use:   "artifact",
		Short: "Build artifact",
		Long:  "The build artifact command packs a local directory (or file) as the gzip tar that push artifact would push.",
		Example: `  # Build the manifests of a directory into artifact.tgz
  weir build artifact --path ./deploy --output artifact.tgz`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			fmt.Fprintf(g.out, "► building artifact from %s\n", path)
			content, err := buildArtifact(cmd.Context(), path, ignore, g.in)
			if err != nil {
				return err
			}
			if err := os.WriteFile(output, content, 0o640); err != nil {
				return fmt.Errorf("write %s: %w", output, err)
			}
			fmt.Fprintf(g.out, "✔ artifact created at %s\n", output)
			return nil
		},
	}
	cmd.Flags().StringVarP(&path, "path", "p", "", "path to the directory (or file, or - for stdin) where the Kubernetes manifests are located")
	cmd.Flags().StringVarP(&output, "output", "o", "artifact.tgz", "path to where the artifact tgz file should be written")
	cmd.Flags().StringSliceVar(&ignore, "ignore-paths", defaultIgnorePaths, "set paths to ignore in .gitignore format")
	return cmd
}

func newPullCommand(g *globals) *cobra.Command {
	cmd := &cobra.Command{Use: "pull", Short: "Pull artifacts from an OCI registry"}
	var (
		rf     registryFlags
		output string
	)
	pull := &cobra.Command{
		Use:   "artifact oci://<registry>/<repository>:<tag>",
		Short: "Pull artifact",
		Long: "The pull artifact command downloads an artifact and unpacks its first layer into a directory, " +
			"refusing entries that would leave it (absolute paths, '..', links out, devices).",
		Example: `  # Pull an artifact into ./deploy
  weir pull artifact oci://ghcr.io/org/manifests/app:v1.0.0 --output ./deploy`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if fi, err := os.Stat(output); output == "" || err != nil || !fi.IsDir() {
				return fmt.Errorf("invalid output path %s", output)
			}
			ref, opts, err := rf.parse(args[0])
			if err != nil {
				return err
			}
			ctx, cancel := context.WithTimeout(cmd.Context(), g.timeout)
			defer cancel()
			fmt.Fprintf(g.out, "► pulling artifact from %s\n", ref.Context().Name()+":"+ref.Identifier())
			art, res, err := pullLayer(ctx, ref, opts)
			if err != nil {
				return err
			}
			meta := oci.MetadataOf(art.Annotations())
			if meta.Source != "" {
				fmt.Fprintf(g.out, "✔ source %s\n", meta.Source)
			}
			if meta.Revision != "" {
				fmt.Fprintf(g.out, "✔ revision %s\n", meta.Revision)
			}
			fmt.Fprintf(g.out, "✔ digest %s@%s\n", ref.Context().Name(), res.Digest)
			if err := unpackLayer(ctx, art, output); err != nil {
				return err
			}
			fmt.Fprintf(g.out, "✔ artifact content extracted to %s\n", output)
			return nil
		},
	}
	rf.register(pull)
	pull.Flags().StringVarP(&output, "output", "o", "", "path where the artifact content should be extracted")
	cmd.AddCommand(pull)
	return cmd
}

// pullLayer resolves ref and fetches its manifest and first layer's descriptor.
func pullLayer(ctx context.Context, ref name.Reference, opts oci.Options) (*oci.Artifact, oci.Resolved, error) {
	r := oci.Ref{Tag: ref.Identifier()}
	if d, ok := ref.(name.Digest); ok {
		r = oci.Ref{Digest: d.DigestStr()}
	}
	res, err := oci.Resolve(ctx, ref.Context(), r, opts)
	if err != nil {
		return nil, res, err
	}
	art, err := oci.Pull(ctx, res, "", oci.Limits{}, opts)
	return art, res, err
}

// unpackLayer extracts the artifact's layer into dir, which may hold files already: the
// layer is unpacked into a fresh directory first, then moved in.
func unpackLayer(ctx context.Context, art *oci.Artifact, dir string) error {
	blob, err := art.Open()
	if err != nil {
		return err
	}
	defer blob.Close()
	tmp, err := os.MkdirTemp("", "weir-pull-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	if err := artifact.ExtractTarGz(ctx, blob, filepath.Join(tmp, "c"), artifact.Limits{}); err != nil {
		return fmt.Errorf("extract artifact: %w", err)
	}
	return copyTree(filepath.Join(tmp, "c"), dir)
}

// copyTree copies the regular files and directories of src into dst.
func copyTree(src, dst string) error {
	return filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(src, p)
		if err != nil {
			return err
		}
		target := filepath.Join(dst, rel)
		switch {
		case d.IsDir():
			return os.MkdirAll(target, 0o755)
		case d.Type().IsRegular():
			data, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			info, err := d.Info()
			if err != nil {
				return err
			}
			return os.WriteFile(target, data, info.Mode().Perm())
		case d.Type()&fs.ModeSymlink != 0:
			link, err := os.Readlink(p)
			if err != nil {
				return err
			}
			return os.Symlink(link, target)
		}
		return nil
	})
}

func newTagCommand(g *globals) *cobra.Command {
	cmd := &cobra.Command{Use: "tag", Short: "Tag artifacts in an OCI registry"}
	var (
		rf   registryFlags
		tags []string
	)
	tag := &cobra.Command{
		Use:   "artifact oci://<registry>/<repository>:<tag>",
		Short: "Tag artifact",
		Long:  "The tag artifact command gives an artifact more tags, without downloading its content.",
		Example: `  # Promote an artifact to production
  weir tag artifact oci://ghcr.io/org/manifests/app:v1.0.0 --tag production`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(tags) == 0 {
				return errors.New("--tag is required")
			}
			ref, opts, err := rf.parse(args[0])
			if err != nil {
				return err
			}
			ctx, cancel := context.WithTimeout(cmd.Context(), g.timeout)
			defer cancel()
			fmt.Fprintln(g.out, "► tagging artifact")
			for _, t := range tags {
				dst, err := oci.Tag(ctx, ref, t, opts)
				if err != nil {
					return err
				}
				fmt.Fprintf(g.out, "✔ artifact tagged as %s\n", dst.Name())
			}
			return nil
		},
	}
	rf.register(tag)
	tag.Flags().StringSliceVar(&tags, "tag", nil, "tag to add to the artifact (repeatable)")
	cmd.AddCommand(tag)
	return cmd
}

func newListCommand(g *globals) *cobra.Command {
	cmd := &cobra.Command{Use: "list", Short: "List artifacts"}
	var (
		rf                   registryFlags
		semverFilter, regexp string
		output               string
	)
	list := &cobra.Command{
		Use:     "artifacts oci://<registry>/<repository>",
		Aliases: []string{"artifact"},
		Short:   "List artifacts",
		Long:    "The list artifacts command lists the tags of a repository with their digests and the source and revision their annotations record.",
		Example: `  # List the artifacts of a repository
  weir list artifacts oci://ghcr.io/org/manifests/app --filter-semver ">=1.0.0"`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			repo, err := oci.ParseRepository(args[0], rf.insecure)
			if err != nil {
				return err
			}
			opts, err := rf.options(repo.Tag("latest"))
			if err != nil {
				return err
			}
			keep, err := tagFilter(semverFilter, regexp)
			if err != nil {
				return err
			}
			ctx, cancel := context.WithTimeout(cmd.Context(), g.timeout)
			defer cancel()
			listed, err := oci.List(ctx, repo, opts)
			if err != nil {
				return err
			}
			type row struct {
				URL      string `json:"url"`
				Digest   string `json:"digest"`
				Source   string `json:"source,omitempty"`
				Revision string `json:"revision,omitempty"`
			}
			var rows []row
			for _, l := range listed {
				if keep(l.Tag) {
					rows = append(rows, row{URL: repo.Name() + ":" + l.Tag, Digest: l.Digest.String(), Source: l.Meta.Source, Revision: l.Meta.Revision})
				}
			}
			if output != "" {
				return printStruct(g.out, output, rows)
			}
			cells := make([][]string, 0, len(rows))
			for _, r := range rows {
				cells = append(cells, []string{r.URL, r.Digest, r.Source, r.Revision})
			}
			return printTable(g.out, []string{"ARTIFACT", "DIGEST", "SOURCE", "REVISION"}, cells)
		},
	}
	rf.register(list)
	list.Flags().StringVar(&semverFilter, "filter-semver", "", "filter tags returned from the OCI repository using semver")
	list.Flags().StringVar(&regexp, "filter-regex", "", "filter tags returned from the OCI repository using regex")
	list.Flags().StringVarP(&output, "output", "o", "", "the format in which the artifacts should be printed, can be 'json' or 'yaml'")
	cmd.AddCommand(list)
	return cmd
}

// tagFilter keeps tags matching a semver range and a regular expression, when given.
func tagFilter(semverRange, expr string) (func(string) bool, error) {
	var c *semver.Constraints
	if semverRange != "" {
		var err error
		if c, err = semver.NewConstraint(semverRange); err != nil {
			return nil, fmt.Errorf("semver '%s' parse error: %w", semverRange, err)
		}
	}
	var re *regexp.Regexp
	if expr != "" {
		var err error
		if re, err = regexp.Compile(expr); err != nil {
			return nil, fmt.Errorf("regex '%s' parse error: %w", expr, err)
		}
	}
	return func(tag string) bool {
		if re != nil && !re.MatchString(tag) {
			return false
		}
		if c != nil {
			v, err := semver.NewVersion(tag)
			if err != nil || !c.Check(v) {
				return false
			}
		}
		return true
	}, nil
}

func newDiffArtifactCommand(g *globals) *cobra.Command {
	var (
		rf     registryFlags
		path   string
		ignore []string
	)
	cmd := &cobra.Command{
		Use:   "artifact oci://<registry>/<repository>:<tag>",
		Short: "Diff artifact",
		Long: "The diff artifact command compares the files of a local directory (or file) with the content of an artifact " +
			"in a registry, file by file, and lists what differs. Unlike flux, which compares archive digests, it finds " +
			"equal content equal whichever tool packed it. The exit code is 1 when there are differences.",
		Example: `  # Check whether the pushed artifact is up to date with ./deploy
  weir diff artifact oci://ghcr.io/org/manifests/app:latest --path ./deploy`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ref, opts, err := rf.parse(args[0])
			if err != nil {
				return &exitError{code: 2, msg: err.Error()}
			}
			ctx, cancel := context.WithTimeout(cmd.Context(), g.timeout)
			defer cancel()
			local, err := buildArtifact(ctx, path, ignore, g.in)
			if err != nil {
				return &exitError{code: 2, msg: err.Error()}
			}
			art, _, err := pullLayer(ctx, ref, opts)
			if err != nil {
				return &exitError{code: 2, msg: err.Error()}
			}
			blob, err := art.Open()
			if err != nil {
				return &exitError{code: 2, msg: err.Error()}
			}
			defer blob.Close()
			remoteFiles, err := tarFiles(ctx, blob)
			if err != nil {
				return &exitError{code: 2, msg: fmt.Sprintf("read remote artifact: %v", err)}
			}
			localFiles, err := tarFiles(ctx, bytes.NewReader(local))
			if err != nil {
				return &exitError{code: 2, msg: err.Error()}
			}
			changes := diffFiles(localFiles, remoteFiles)
			if len(changes) == 0 {
				fmt.Fprintln(g.out, "✔ no changes detected")
				return nil
			}
			for _, c := range changes {
				fmt.Fprintln(g.out, c)
			}
			return &exitError{code: 1, msg: "the remote artifact contents differs from the local one"}
		},
	}
	rf.register(cmd)
	cmd.Flags().StringVarP(&path, "path", "p", "", "path to the directory (or file) where the Kubernetes manifests are located")
	cmd.Flags().StringSliceVar(&ignore, "ignore-paths", defaultIgnorePaths, "set paths to ignore in .gitignore format")
	return cmd
}

// tarFiles unpacks a gzip tar into memory-light form: path → sha256 of the content, within
// the extraction limits and refusing unsafe entries.
func tarFiles(ctx context.Context, r io.Reader) (map[string]string, error) {
	tmp, err := os.MkdirTemp("", "weir-diff-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(tmp)
	dir := filepath.Join(tmp, "c")
	if err := artifact.ExtractTarGz(ctx, r, dir, artifact.Limits{}); err != nil {
		return nil, err
	}
	out := map[string]string{}
	err = filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		var content []byte
		if d.Type()&fs.ModeSymlink != 0 {
			link, err := os.Readlink(p)
			if err != nil {
				return err
			}
			content = []byte("symlink:" + link)
		} else if content, err = os.ReadFile(p); err != nil {
			return err
		}
		out[filepath.ToSlash(rel)] = string(content)
		return nil
	})
	return out, err
}

// diffFiles lists, sorted, "► <path> added|deleted|changed" for the local tree against the
// remote one.
func diffFiles(local, remote map[string]string) []string {
	var out []string
	for p, c := range local {
		r, ok := remote[p]
		switch {
		case !ok:
			out = append(out, "► "+p+" added")
		case r != c:
			out = append(out, "► "+p+" changed")
		}
	}
	for p := range remote {
		if _, ok := local[p]; !ok {
			out = append(out, "► "+p+" deleted")
		}
	}
	sort.Strings(out)
	return out
}
