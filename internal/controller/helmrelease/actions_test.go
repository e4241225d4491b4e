package helmrelease

import (
	"testing"

	helmv2 "github.com/fluxcd/helm-controller/api/v2"
	"helm.sh/helm/v4/pkg/action"
	"helm.sh/helm/v4/pkg/kube"
)

func TestActionDefaults(t *testing.T) {
	hr := func(mutate func(*helmv2.HelmRelease)) *helmv2.HelmRelease {
		h := &helmv2.HelmRelease{}
		if mutate != nil {
			mutate(h)
		}
		return h
	}
	legacy := func(h *helmv2.HelmRelease) {
		h.Spec.WaitStrategy = &helmv2.WaitStrategy{Name: helmv2.WaitStrategyLegacy}
	}
	poller := func(h *helmv2.HelmRelease) {
		h.Spec.WaitStrategy = &helmv2.WaitStrategy{Name: helmv2.WaitStrategyPoller}
	}
	waits := []struct {
		name        string
		helm3       bool
		hr          *helmv2.HelmRelease
		disableWait bool
		want        kube.WaitStrategy
	}{
		{"default is kstatus", false, hr(nil), false, kube.StatusWatcherStrategy},
		{"legacy", false, hr(legacy), false, kube.LegacyStrategy},
		{"UseHelm3Defaults", true, hr(nil), false, kube.LegacyStrategy},
		{"UseHelm3Defaults, spec says poller", true, hr(poller), false, kube.StatusWatcherStrategy},
		{"disableWait", false, hr(legacy), true, kube.HookOnlyStrategy},
	}
	for _, c := range waits {
		r := &Reconciler{UseHelm3Defaults: c.helm3}
		if got := r.waitStrategy(c.hr, c.disableWait); got != c.want {
			t.Errorf("%s: waitStrategy = %s, want %s", c.name, got, c.want)
		}
	}
	for mode, want := range map[helmv2.ServerSideApplyMode][2]string{
		"": {"auto", "false"}, helmv2.ServerSideApplyEnabled: {"true", "true"},
		helmv2.ServerSideApplyDisabled: {"false", "false"}, helmv2.ServerSideApplyAuto: {"auto", "auto"},
	} {
		if got := [2]string{serverSideApply(mode, false), serverSideApply(mode, true)}; got != want {
			t.Errorf("serverSideApply(%q) = %v, want %v", mode, got, want)
		}
	}
	if strategy(hr(nil), false) != action.PostRenderStrategyCombined || strategy(hr(nil), true) != action.PostRenderStrategyNoHooks ||
		strategy(hr(func(h *helmv2.HelmRelease) { h.Spec.PostRenderStrategy = "separate" }), true) != action.PostRenderStrategySeparate {
		t.Error("post-render strategy defaults")
	}
	crds := []struct {
		name string
		hr   *helmv2.HelmRelease
		act  helmv2.ReleaseAction
		want helmv2.CRDsPolicy
	}{
		{"install default", hr(nil), helmv2.ReleaseActionInstall, helmv2.Create},
		{"install skipCRDs", hr(func(h *helmv2.HelmRelease) { h.Spec.Install = &helmv2.Install{SkipCRDs: true} }), helmv2.ReleaseActionInstall, helmv2.Skip},
		{"install policy wins", hr(func(h *helmv2.HelmRelease) {
			h.Spec.Install = &helmv2.Install{SkipCRDs: true, CRDs: helmv2.CreateReplace}
		}), helmv2.ReleaseActionInstall, helmv2.CreateReplace},
		{"upgrade default", hr(nil), helmv2.ReleaseActionUpgrade, helmv2.Skip},
		{"upgrade Create", hr(func(h *helmv2.HelmRelease) { h.Spec.Upgrade = &helmv2.Upgrade{CRDs: helmv2.Create} }), helmv2.ReleaseActionUpgrade, helmv2.Create},
	}
	for _, c := range crds {
		if got := crdPolicy(c.hr, c.act); got != c.want {
			t.Errorf("%s: crdPolicy = %s, want %s", c.name, got, c.want)
		}
	}
	r := &Reconciler{}
	if r.retryStrategy(hr(nil), helmv2.ReleaseActionInstall) != nil {
		t.Error("RetryOnFailure without the strategy or the gate")
	}
	r.DefaultToRetryOnFailure = true
	if rs := r.retryStrategy(hr(nil), helmv2.ReleaseActionUpgrade); rs == nil || rs.GetRetryInterval().Minutes() != 5 {
		t.Errorf("DefaultToRetryOnFailure: %v, want RetryOnFailure every 5m", rs)
	}
}
