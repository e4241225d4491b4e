package notification

import (
	"testing"
	"time"
)

// FuzzCompileFilter checks a Receiver's resourceFilter and resources[].filter over arbitrary
// expressions (anyone who can create a Receiver writes them, and evaluates them on request
// bodies anyone can send): compiling never panics and either fails or yields a program that
// evaluates on a fixed resource and body without a panic and promptly, the cost limit
// stopping the expensive ones.
//
// The package's TestMain starts a control plane, so `make fuzz` does not fuzz this target; its
// seeds and corpus run as unit tests in `make test`.
func FuzzCompileFilter(f *testing.F) {
	for _, s := range []string{
		`res.metadata.name == 'app'`, `req.tag.startsWith('v1.') && res.metadata.namespace == 'apps'`,
		`has(res.metadata.labels) && res.metadata.labels.?team.orValue('') == 'web'`, `'a'`, `res.(`,
		`req.commits.exists(c, c.modified.exists(p, p.startsWith('charts/')))`,
		`[1,2,3,4,5,6,7,8,9,10].all(a, [1,2,3,4,5,6,7,8,9,10].all(b, [1,2,3,4,5,6,7,8,9,10].all(c, [1,2,3,4,5,6,7,8,9,10].all(d, [1,2,3,4,5,6,7,8,9,10].all(e, [1,2,3,4,5,6,7,8,9,10].all(f, a+b+c+d+e+f > 0))))))`,
	} {
		f.Add(s)
	}
	env, err := filterEnv()
	if err != nil {
		f.Fatal(err)
	}
	vars := map[string]any{
		"res": map[string]any{
			"apiVersion": "source.toolkit.fluxcd.io/v1", "kind": "GitRepository",
			"metadata": map[string]any{"name": "app", "namespace": "apps", "labels": map[string]any{"team": "web"}},
		},
		"req": map[string]any{
			"tag":     "v1.2.3",
			"commits": []any{map[string]any{"modified": []any{"charts/app/values.yaml", "README.md"}}},
		},
		"claims": map[string]any{"sub": "repo:org/app:ref:refs/heads/main"},
	}
	f.Fuzz(func(t *testing.T, src string) {
		prg, err := compileFilter(env, src)
		if err != nil {
			return
		}
		start := time.Now()
		_, _, _ = prg.Eval(vars)
		if took := time.Since(start); took > 20*time.Second {
			t.Fatalf("filter %q took %v", src, took)
		}
	})
}
