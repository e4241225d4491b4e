package stack

import (
	"slices"
	"testing"

	"github.com/google/go-github/v88/github"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"

	hopsv1 "github.com/weirgitops/weir/api/hops/v1alpha1"
)

func TestPoliciesOf(t *testing.T) {
	cases := []struct {
		name        string
		policies    []hopsv1.ManagementPolicy
		allowDelete bool
		want        policies
	}{
		{name: "default is everything but Delete", want: policies{create: true, update: true, lateInit: true}},
		{name: "star with allowDelete", policies: []hopsv1.ManagementPolicy{"*"}, allowDelete: true, want: policies{true, true, true, true}},
		{name: "Delete without allowDelete", policies: []hopsv1.ManagementPolicy{"Observe", "Delete"}, want: policies{}},
		{name: "seed stage 4", policies: []hopsv1.ManagementPolicy{"Observe", "Update", "LateInitialize"}, allowDelete: false, want: policies{update: true, lateInit: true}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			spec := &hopsv1.FluxGitopsStackSpec{ManagementPolicies: tc.policies, Repository: hopsv1.RepositorySpec{AllowDelete: tc.allowDelete}}
			if got := policiesOf(spec); got != tc.want {
				t.Errorf("policiesOf = %+v, want %+v", got, tc.want)
			}
		})
	}
}

func TestRepositoryChanges(t *testing.T) {
	f, tr := false, true
	cases := []struct {
		name        string
		spec        hopsv1.RepositorySpec
		repo        *github.Repository
		lateInit    bool
		wantPrivate *bool
		wantDesc    *string
		wantTopics  []string
	}{
		{name: "private by default", repo: &github.Repository{Private: &f}, wantPrivate: &tr},
		{name: "late init keeps GitHub's visibility", repo: &github.Repository{Private: &f}, lateInit: true},
		{name: "explicit public", spec: hopsv1.RepositorySpec{Private: &f}, repo: &github.Repository{Private: &tr}, lateInit: true, wantPrivate: &f},
		{name: "description and topics", spec: hopsv1.RepositorySpec{Description: "d", Topics: []string{"b", "a"}},
			repo: &github.Repository{Private: &tr, Topics: []string{"a"}}, wantDesc: github.Ptr("d"), wantTopics: []string{"b", "a"}},
		{name: "topics in another order match", spec: hopsv1.RepositorySpec{Topics: []string{"b", "a"}}, repo: &github.Repository{Private: &tr, Topics: []string{"a", "b"}}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			edit, topics := repositoryChanges(&hopsv1.FluxGitopsStackSpec{Repository: tc.spec}, tc.repo, tc.lateInit)
			var gotPrivate *bool
			var gotDesc *string
			if edit != nil {
				gotPrivate, gotDesc = edit.Private, edit.Description
			}
			if (gotPrivate == nil) != (tc.wantPrivate == nil) || (gotPrivate != nil && *gotPrivate != *tc.wantPrivate) {
				t.Errorf("private edit = %v, want %v", gotPrivate, tc.wantPrivate)
			}
			if (gotDesc == nil) != (tc.wantDesc == nil) || (gotDesc != nil && *gotDesc != *tc.wantDesc) {
				t.Errorf("description edit = %v, want %v", gotDesc, tc.wantDesc)
			}
			if !slices.Equal(topics, tc.wantTopics) {
				t.Errorf("topics = %v, want %v", topics, tc.wantTopics)
			}
		})
	}
}

func TestEngineValuesKeepNodePool(t *testing.T) {
	stack := &hopsv1.FluxGitopsStack{Spec: hopsv1.FluxGitopsStackSpec{
		NodePool: hopsv1.NodePoolSpec{Enabled: true},
		Flux: hopsv1.FluxSpec{Values: &apiextensionsv1.JSON{Raw: []byte(
			`{"tolerations":[{"key":"mine","operator":"Exists"}],"nodeSelector":{"zone":"a"},"rbac":{"create":true}}`)}},
	}}
	v, err := engineValues(stack)
	if err != nil {
		t.Fatal(err)
	}
	tols := v["tolerations"].([]any)
	if len(tols) != 2 {
		t.Errorf("tolerations = %v, want the user's and the NodePool's", tols)
	}
	sel := v["nodeSelector"].(map[string]any)
	if sel["zone"] != "a" || sel[nodePoolLabel] != "gitops" {
		t.Errorf("nodeSelector = %v", sel)
	}
	rbac := v["rbac"].(map[string]any)
	if rbac["create"] != true || rbac["annotations"] == nil {
		t.Errorf("rbac = %v, want the user's merged with weir's", rbac)
	}
}

func TestExternalSecretShape(t *testing.T) {
	cases := []struct {
		name string
		app  hopsv1.GithubAppSpec
		want string // the installation key of the rendered Secret
	}{
		{name: "owner from repository.org", app: hopsv1.GithubAppSpec{SecretPath: "p", AppIDKey: "a", PrivateKeyKey: "k"}, want: "githubAppInstallationOwner"},
		{name: "installation ID", app: hopsv1.GithubAppSpec{SecretPath: "p", AppIDKey: "a", PrivateKeyKey: "k", InstallationIDKey: "i"}, want: "githubAppInstallationID"},
		{name: "owner from the store", app: hopsv1.GithubAppSpec{SecretPath: "p", AppIDKey: "a", PrivateKeyKey: "k", InstallationOwnerKey: "o"}, want: "githubAppInstallationOwner"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s := &hopsv1.FluxGitopsStack{Spec: hopsv1.FluxGitopsStackSpec{Repository: hopsv1.RepositorySpec{Org: "hops-ops"},
				ExternalSecrets: hopsv1.ExternalSecretsSpec{Enabled: true, SecretStoreName: "s", GithubApp: tc.app}}}
			u := externalSecret(s, "flux-system", DefaultAPIURL)
			tmpl := u.Object["spec"].(map[string]any)["target"].(map[string]any)["template"].(map[string]any)["data"].(map[string]any)
			n := 0
			for _, k := range []string{"githubAppInstallationOwner", "githubAppInstallationID"} {
				if _, ok := tmpl[k]; ok {
					n++
				}
			}
			if _, ok := tmpl[tc.want]; !ok || n != 1 {
				t.Errorf("template = %v, want exactly %s", tmpl, tc.want)
			}
			if _, ok := tmpl["githubAppBaseURL"]; ok {
				t.Error("githubAppBaseURL set for github.com")
			}
		})
	}
}
