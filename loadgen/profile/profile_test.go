package profile

import (
	"testing"
	"time"
)

func TestParse(t *testing.T) {
	tests := map[string]struct {
		in      string
		want    []Phase
		wantErr bool
	}{
		"two phases":       {in: "50:2m,200:30s", want: []Phase{{50, 2 * time.Minute}, {200, 30 * time.Second}}},
		"spaces":           {in: " 1500:1s , 0.5:4s", want: []Phase{{1500, time.Second}, {0.5, 4 * time.Second}}},
		"no colon":         {in: "50", wantErr: true},
		"bad rate":         {in: "fast:1m", wantErr: true},
		"bad duration":     {in: "50:soon", wantErr: true},
		"zero rate":        {in: "0:1m", wantErr: true},
		"negative":         {in: "-5:1m", wantErr: true},
		"zero duration":    {in: "50:0s", wantErr: true},
		"no record at all": {in: "0.1:1s", wantErr: true},
		"empty":            {in: "", wantErr: true},
		"too fast":         {in: "2000000:1s", wantErr: true},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			got, err := Parse(tc.in)
			if (err != nil) != tc.wantErr {
				t.Fatalf("Parse(%q) error = %v, want error %v", tc.in, err, tc.wantErr)
			}
			if len(got) != len(tc.want) {
				t.Fatalf("Parse(%q) = %v, want %v", tc.in, got, tc.want)
			}
			for i := range got {
				if got[i] != tc.want[i] {
					t.Errorf("phase %d = %v, want %v", i, got[i], tc.want[i])
				}
			}
		})
	}
}

func TestAttack(t *testing.T) {
	tests := map[string]struct {
		durations []time.Duration
		want      []time.Duration
		wantErr   bool
	}{
		"defaults": {want: AttackDurations},
		"one for all": {durations: []time.Duration{15 * time.Second},
			want: []time.Duration{15 * time.Second, 15 * time.Second, 15 * time.Second, 15 * time.Second}},
		"each": {durations: []time.Duration{1 * time.Second, 2 * time.Second, 3 * time.Second, 4 * time.Second},
			want: []time.Duration{1 * time.Second, 2 * time.Second, 3 * time.Second, 4 * time.Second}},
		"two is ambiguous": {durations: []time.Duration{time.Second, time.Second}, wantErr: true},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			ps, err := Attack(tc.durations)
			if (err != nil) != tc.wantErr {
				t.Fatalf("error = %v, want error %v", err, tc.wantErr)
			}
			if tc.wantErr {
				return
			}
			for i, p := range ps {
				if p.Rate != AttackRates[i] || p.Duration != tc.want[i] {
					t.Errorf("phase %d = %v, want %v:%v", i, p, AttackRates[i], tc.want[i])
				}
			}
		})
	}
	if got := Total([]Phase{{1, time.Second}, {2, time.Minute}}); got != 61*time.Second {
		t.Errorf("Total = %v, want 1m1s", got)
	}
}

// Whatever --phases holds, Parse either refuses it or returns phases the pacer can run.
func FuzzParse(f *testing.F) {
	for _, s := range []string{"50:2m,200:3m,500:3m,1500:10m", "1:1s", "0.5:2s", "1e6:1ms", ":", "1500", "-1:1s",
		"NaN:1s", "1:-1s", "1:9223372036s", " 5 : 1s ,6:1s", "1:1s,", "+Inf:1h"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		ps, err := Parse(s)
		if err != nil {
			if ps != nil {
				t.Fatalf("Parse(%q) returned phases with error %v", s, err)
			}
			return
		}
		for i, p := range ps {
			if !(p.Rate > 0 && p.Rate <= MaxRate) || p.Duration <= 0 || p.Records() < 1 {
				t.Fatalf("Parse(%q) phase %d = %+v (records %d): not runnable", s, i, p, p.Records())
			}
		}
	})
}
