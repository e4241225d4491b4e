package notification

import (
	"testing"
	"time"
)

func TestDeduper(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	d := &Deduper{Interval: 5 * time.Minute, now: func() time.Time { return now }}
	if !d.First("a") || d.First("a") {
		t.Fatal("a second identical event within the interval must be a duplicate")
	}
	if !d.First("b") {
		t.Error("another event is not a duplicate")
	}
	now = now.Add(5 * time.Minute)
	if !d.First("a") {
		t.Error("after the interval the event is new again")
	}
	d.Forget("a")
	if !d.First("a") {
		t.Error("a forgotten event is new")
	}
	off := &Deduper{}
	first := off.First("x")
	second := off.First("x")
	if !first || !second {
		t.Error("interval 0 suppresses nothing")
	}
}
