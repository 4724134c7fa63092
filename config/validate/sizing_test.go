package validate

import "testing"

// TestSizing: at the attack's 1,500 TPS even 6 pods run above 80 % (so the HPA pins max-scale
// and the admin alert's condition holds), while 500 TPS fits in the minimum 4 below 80 %.
func TestSizing(t *testing.T) {
	tests := map[string]Sizing{"knative": KnativeSizing, "kubernetes": KubernetesSizing}
	for name, s := range tests {
		t.Run(name, func(t *testing.T) {
			hot := s.Utilization(AttackTPS, WantMaxScale)
			calm := s.Utilization(MediumTPS, WantMinScale)
			t.Logf("%d TPS on %d pods: %.0f %% of request; %d TPS on %d pods: %.0f %%; desired pods %d and %d",
				AttackTPS, WantMaxScale, 100*hot, MediumTPS, WantMinScale, 100*calm, s.DesiredPods(AttackTPS), s.DesiredPods(MediumTPS))
			if hot <= TargetUtilization {
				t.Errorf("%d TPS leaves 6 pods at %.0f %%, want > 80 %%", AttackTPS, 100*hot)
			}
			// The HPA adds no pod while utilization stays within its tolerance of the target.
			if calm > TargetUtilization && s.Scales(MediumTPS, WantMinScale) {
				t.Errorf("%d TPS puts the 4 minimum pods at %.0f %%: the HPA scales above %.0f %%", MediumTPS, 100*calm, 100*TargetUtilization*(1+HPATolerance))
			}
			if d := s.DesiredPods(AttackTPS); d <= WantMaxScale {
				t.Errorf("%d TPS wants only %d pods: max-scale would not be pinned", AttackTPS, d)
			}
		})
	}
}
