// Command attack records the plan's attack on the local cluster (config/local/attack.sh starts it
// right after the loadgen Job): every 15 s a sample of what a person would watch — offered and
// delivered TPS, the HPA's replicas and CPU, the recording rule's CPU, Kafka lag, pod phases,
// each alert's state, what the admin receiver got — and, when the Job has finished, the report
// under --out: timeline.json, summary.md, attack.svg, and the final line
//
//	cluster-attack: variant=plain max_replicas=N over_max=N admin_alert_after_s=N delivered=0|1 sent=N predicted=N lost=N duplicates=N
//
// With --check it exits 1 unless the run shows what issue 11 asks (see check.go).
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"
)

type options struct {
	out, profile, variant                      string
	kubectl, namespace, hpa, job, deployment   string
	prometheus, alertmanager, receiver, pidDir string
	interval, hpaInterval, maxDuration         time.Duration
	check                                      bool
	// calibration (calibrate.go): record a run with the HPA pinned at calibrate pods and the
	// function's request at requestMilli; or size the request from two such runs.
	calibrate    int
	requestMilli float64
	size         string
}

func parseOptions(args []string, stderr io.Writer) (options, error) {
	var o options
	fs := flag.NewFlagSet("attack", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&o.out, "out", "", "folder of the report (required)")
	fs.StringVar(&o.profile, "profile", "ci", "name of the attack profile, for the report")
	fs.StringVar(&o.variant, "variant", "plain", "plain | knative, for the report")
	fs.StringVar(&o.kubectl, "kubectl", "kubectl", "kubectl command")
	fs.StringVar(&o.namespace, "namespace", "fraud-detection", "namespace of the function")
	fs.StringVar(&o.hpa, "hpa", "fraud-detector", "the function's HorizontalPodAutoscaler")
	fs.StringVar(&o.deployment, "pods", "app.kubernetes.io/name=fraud-detector", "label selector of the function's pods")
	fs.StringVar(&o.job, "job", "loadgen-attack", "the loadgen Job; recording ends when it has finished")
	fs.StringVar(&o.prometheus, "prometheus", "", "Prometheus base URL (required)")
	fs.StringVar(&o.alertmanager, "alertmanager", "", "Alertmanager base URL (required)")
	fs.StringVar(&o.receiver, "receiver", "", "admin receiver base URL (required)")
	fs.StringVar(&o.pidDir, "pid-dir", "", "folder of the cluster's host process pid files (their CPU and memory are recorded)")
	fs.DurationVar(&o.interval, "interval", 15*time.Second, "timeline interval")
	fs.DurationVar(&o.hpaInterval, "hpa-interval", 5*time.Second, "how often the HPA is read (the moment both conditions first hold)")
	fs.DurationVar(&o.maxDuration, "max-duration", 45*time.Minute, "give up after this long")
	fs.BoolVar(&o.check, "check", false, "exit 1 unless the run shows what issue 11 asks")
	fs.IntVar(&o.calibrate, "calibrate", 0, "a calibration run: the HPA is pinned at this many replicas; writes calibration.json instead of the report")
	fs.Float64Var(&o.requestMilli, "request-milli", 0, "with --calibrate: the function container's CPU request (millicores)")
	fs.StringVar(&o.size, "size", "", "MEDIUM,TOP: size the request from two calibration.json files (no recording)")
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	if fs.NArg() > 0 {
		return o, fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	if o.size != "" {
		if o.out == "" || len(strings.Split(o.size, ",")) != 2 {
			return o, errors.New("--size wants MEDIUM,TOP and --out")
		}
		return o, nil
	}
	if o.calibrate < 0 || (o.calibrate > 0 && o.requestMilli <= 0) {
		return o, errors.New("--calibrate wants a number of pods and --request-milli")
	}
	for name, v := range map[string]string{"out": o.out, "prometheus": o.prometheus, "alertmanager": o.alertmanager, "receiver": o.receiver} {
		if v == "" {
			return o, fmt.Errorf("--%s is required", name)
		}
	}
	if o.variant != "plain" && o.variant != "knative" {
		return o, fmt.Errorf("--variant %q: want plain or knative", o.variant)
	}
	if o.interval <= 0 || o.hpaInterval <= 0 || o.maxDuration <= 0 {
		return o, errors.New("--interval, --hpa-interval and --max-duration must be positive")
	}
	return o, nil
}

func main() {
	o, err := parseOptions(os.Args[1:], os.Stderr)
	if errors.Is(err, flag.ErrHelp) {
		return
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "attack: %v\n", err)
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	ctx, cancel := context.WithTimeout(ctx, o.maxDuration)
	defer cancel()
	os.Exit(run(ctx, o, os.Stdout, os.Stderr))
}

func run(ctx context.Context, o options, stdout, stderr io.Writer) int {
	if o.size != "" {
		paths := strings.Split(o.size, ",")
		if err := runSize(paths[0], paths[1], o.out, stdout); err != nil {
			fmt.Fprintf(stderr, "attack: %v\n", err)
			return 1
		}
		return 0
	}
	p := newProbe(o)
	rec, err := record(ctx, o, p, stderr)
	if err != nil {
		fmt.Fprintf(stderr, "attack: %v\n", err)
		// Whatever was recorded is still written: it is what explains the failure.
	}
	if o.calibrate > 0 {
		if cerr := runCalibration(rec, o, stdout); cerr != nil || err != nil {
			fmt.Fprintf(stderr, "attack: %v\n", errors.Join(err, cerr))
			return 1
		}
		return 0
	}
	res := analyse(rec)
	if werr := writeReport(o.out, rec, res); werr != nil {
		fmt.Fprintf(stderr, "attack: %v\n", werr)
		return 1
	}
	fmt.Fprintf(stdout, "attack: report in %s (attack.svg, summary.md, timeline.json)\n", o.out)
	failures := check(rec, res)
	for _, f := range failures {
		fmt.Fprintf(stdout, "attack: FAIL %s\n", f)
	}
	fmt.Fprintln(stdout, res.Line())
	if err != nil || (o.check && len(failures) > 0) {
		return 1
	}
	return 0
}
