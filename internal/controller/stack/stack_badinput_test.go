package stack_test

import (
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	apimeta "k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	hopsv1 "github.com/weirgitops/weir/api/hops/v1alpha1"
	"github.com/weirgitops/weir/internal/controller/stack"
)

// TestBadInput gives the stack what a user gets wrong, or what GitHub refuses: each case ends
// in a condition with a precise reason, GitHub is left as it was, and no credential shows.
// The engine is disabled: these cases are about the repository.
func TestBadInput(t *testing.T) {
	cases := []struct {
		name string
		// setup prepares the stand-in and the credentials.
		setup func(f *fixture)
		spec  string
		cond  string
		// reason is the condition's; Ready has the same.
		reason string
		// stalled says whether the stack is Stalled (no retry until it changes).
		stalled bool
	}{
		{
			name:   "credentials Secret missing",
			setup:  func(f *fixture) { f.credentials(map[string]string{"unrelated": "x"}) },
			spec:   "  repository:\n    org: hops-ops\n    credentialsSecretRef:\n      name: nowhere\n",
			cond:   stack.RepositoryReadyCondition,
			reason: stack.ReasonCredentialsNotFound,
		},
		{
			name:   "invalid token",
			setup:  func(f *fixture) { f.credentials(map[string]string{"token": "ghp_wrong", "apiURL": f.gh.APIURL()}) },
			spec:   "  repository:\n    org: hops-ops\n",
			cond:   stack.RepositoryReadyCondition,
			reason: stack.ReasonInvalidCredentials,
		},
		{
			name:   "Secret without a token or an App",
			setup:  func(f *fixture) { f.credentials(map[string]string{"apiURL": f.gh.APIURL()}) },
			spec:   "  repository:\n    org: hops-ops\n",
			cond:   stack.RepositoryReadyCondition,
			reason: stack.ReasonInvalidCredentials,
		},
		{
			name:   "organisation that does not exist",
			spec:   "  repository:\n    org: nobody-here\n",
			cond:   stack.RepositoryReadyCondition,
			reason: stack.ReasonOrganizationNotFound,
		},
		{
			name: "name already taken",
			setup: func(f *fixture) {
				f.gh.AddRepo("hops-ops", "lifecycle-gitops", true, false, map[string]string{"x": "y"})
			},
			spec:   "  repository:\n    org: hops-ops\n    allowDelete: true\n",
			cond:   stack.RepositoryReadyCondition,
			reason: stack.ReasonNameTaken,
		},
		{
			name:   "template that is not a template repository",
			setup:  func(f *fixture) { f.gh.AddRepo("hops-ops", "plain", false, false, map[string]string{"x": "y"}) },
			spec:   "  repository:\n    org: hops-ops\n    template:\n      owner: hops-ops\n      repository: plain\n",
			cond:   stack.RepositoryReadyCondition,
			reason: stack.ReasonNotATemplate,
		},
		{
			name:   "template that does not exist",
			spec:   "  repository:\n    org: hops-ops\n    template:\n      owner: hops-ops\n      repository: missing\n",
			cond:   stack.RepositoryReadyCondition,
			reason: stack.ReasonTemplateNotFound,
		},
		{
			name:   "import of a repository that does not exist",
			spec:   "  managementPolicies: [Observe, Update]\n  repository:\n    org: hops-ops\n",
			cond:   stack.RepositoryReadyCondition,
			reason: stack.ReasonRepositoryNotFound,
		},
		{
			name:    "external secrets with two installation keys",
			spec:    "  repository:\n    org: hops-ops\n  externalSecrets:\n    enabled: true\n    secretStoreName: s\n    githubApp:\n      secretPath: p\n      appIdKey: a\n      privateKeyKey: k\n      installationIdKey: i\n      installationOwnerKey: o\n",
			cond:    stack.ExternalSecretReadyCondition,
			reason:  stack.ReasonInvalidExternalSecrets,
			stalled: true,
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t)
			if tc.setup != nil {
				tc.setup(f)
			}
			applyYAML(t, stackYAML("  flux:\n    enabled: false\n"+tc.spec))
			s := waitStack(t, time.Minute, func(s *hopsv1.FluxGitopsStack) error {
				if err := condition(tc.cond, metav1.ConditionFalse, tc.reason)(s); err != nil {
					return err
				}
				return condition("Ready", metav1.ConditionFalse, tc.reason)(s)
			})
			if got := apimeta.IsStatusConditionTrue(s.Status.Conditions, "Stalled"); got != tc.stalled {
				t.Errorf("Stalled = %v, want %v", got, tc.stalled)
			}
			if s.Status.Ready {
				t.Error("status.ready is true")
			}
			noSecretLeaks(t, token, "ghp_wrong")
			deleteStack(t, "default", "flux-gitops")
			for _, c := range f.gh.Calls() {
				if strings.HasPrefix(c, "DELETE") || strings.HasPrefix(c, "PATCH") || strings.HasPrefix(c, "PUT") {
					t.Errorf("GitHub changed by a refused stack: %s", c)
				}
			}
		})
	}
}

// TestRateLimitHonoured throttles the API (secondary rate limit, 429 and 403 with Retry-After;
// the primary one, 403 with no request left until a reset time): the stack reports RateLimited
// and retries no sooner than GitHub asked.
func TestRateLimitHonoured(t *testing.T) {
	for _, status := range []int{http.StatusTooManyRequests, http.StatusForbidden, 0} {
		name := http.StatusText(status)
		if status == 0 {
			name = "primary"
		}
		t.Run(name, func(t *testing.T) {
			f := newFixture(t)
			const retryAfter = 2 * time.Second
			if status == 0 {
				// The reset is whole seconds away: at least two seconds after each refusal.
				f.gh.ThrottlePrimary(2, 3*time.Second)
			} else {
				f.gh.Throttle(2, status, retryAfter)
			}
			start := time.Now()
			applyYAML(t, stackYAML("  flux:\n    enabled: false\n  repository:\n    org: hops-ops\n"))
			defer deleteStack(t, "default", "flux-gitops")
			waitStack(t, time.Minute, condition(stack.RepositoryReadyCondition, metav1.ConditionFalse, stack.ReasonRateLimited))
			waitStack(t, time.Minute, condition(stack.RepositoryReadyCondition, metav1.ConditionTrue, stack.ReasonSucceeded))
			// Two refused requests, each followed by the wait GitHub asked for.
			least := 2 * retryAfter
			if took := time.Since(start); took < least {
				t.Errorf("repository created %s after the rate-limited requests, want at least %s", took, least)
			}
			if !slices.Contains(f.gh.Calls(), "POST /orgs/hops-ops/repos") {
				t.Errorf("calls = %v", f.gh.Calls())
			}
		})
	}
}

// TestCredentialsFixed replaces a rejected token in the credentials Secret: the stack recovers
// without being touched.
func TestCredentialsFixed(t *testing.T) {
	f := newFixture(t)
	f.credentials(map[string]string{"token": "ghp_wrong", "apiURL": f.gh.APIURL()})
	applyYAML(t, stackYAML("  flux:\n    enabled: false\n  repository:\n    org: hops-ops\n"))
	defer deleteStack(t, "default", "flux-gitops")
	waitStack(t, time.Minute, condition(stack.RepositoryReadyCondition, metav1.ConditionFalse, stack.ReasonInvalidCredentials))
	f.credentials(map[string]string{"token": token, "apiURL": f.gh.APIURL()})
	waitStack(t, time.Minute, condition(stack.RepositoryReadyCondition, metav1.ConditionTrue, stack.ReasonSucceeded))
}
