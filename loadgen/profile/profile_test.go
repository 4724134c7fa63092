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
