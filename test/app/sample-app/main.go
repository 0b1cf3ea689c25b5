// sample-app is the small HTTP service that Gantry's demo and tests deploy.
// Environment knobs make a version misbehave in controlled ways. `sample-app -check URL`
// is its smoke test instead: one GET, exit 0 on a 2xx answer (what a Job gate runs).
package main

import (
	"fmt"
	"io"
	"log"
	"math/rand"
	"net/http"
	"os"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
)

// version is set at build time with -ldflags "-X main.version=…"; APP_VERSION overrides it.
var version = "dev"

type knobs struct {
	errorRate      float64       // ERROR_RATE: fraction (0..1) of requests answered with 500
	latency        time.Duration // LATENCY_MS: added to every request
	crashOnStart   bool          // CRASH_ON_START: exit 1 right away
	neverReady     bool          // NEVER_READY: /ready always answers 503
	readyFailAfter time.Duration // READY_FAIL_AFTER: /ready turns 503 this many seconds after start
	port           string        // PORT, default 8080
}

func readKnobs() (knobs, error) {
	k := knobs{port: envOr("PORT", "8080")}
	var err error
	if v := os.Getenv("ERROR_RATE"); v != "" {
		if k.errorRate, err = strconv.ParseFloat(v, 64); err != nil || k.errorRate < 0 || k.errorRate > 1 {
			return k, fmt.Errorf("ERROR_RATE must be a number between 0 and 1, got %q", v)
		}
	}
	if v := os.Getenv("LATENCY_MS"); v != "" {
		ms, err := strconv.Atoi(v)
		if err != nil || ms < 0 {
			return k, fmt.Errorf("LATENCY_MS must be a whole number of milliseconds, got %q", v)
		}
		k.latency = time.Duration(ms) * time.Millisecond
	}
	k.crashOnStart = truthy(os.Getenv("CRASH_ON_START"))
	k.neverReady = truthy(os.Getenv("NEVER_READY"))
	if v := os.Getenv("READY_FAIL_AFTER"); v != "" {
		s, err := strconv.Atoi(v)
		if err != nil || s < 0 {
			return k, fmt.Errorf("READY_FAIL_AFTER must be a whole number of seconds, got %q", v)
		}
		k.readyFailAfter = time.Duration(s) * time.Second
	}
	return k, nil
}

func envOr(name, fallback string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return fallback
}

func truthy(v string) bool {
	switch strings.ToLower(v) {
	case "1", "true", "yes", "on":
		return true
	}
	return false
}

// metrics is a minimal Prometheus text-format registry: a request counter by
// status code and a latency histogram, both labelled with the version.
type metrics struct {
	mu      sync.Mutex
	counts  map[int]uint64
	buckets []float64
	hist    []uint64
	sum     float64
	total   uint64
}

func newMetrics() *metrics {
	b := []float64{0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5}
	return &metrics{counts: map[int]uint64{}, buckets: b, hist: make([]uint64, len(b))}
}

func (m *metrics) observe(code int, d time.Duration) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.counts[code]++
	s := d.Seconds()
	for i, le := range m.buckets {
		if s <= le {
			m.hist[i]++
		}
	}
	m.sum += s
	m.total++
}

func (m *metrics) write(w http.ResponseWriter, ver string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	w.Header().Set("Content-Type", "text/plain; version=0.0.4")
	fmt.Fprintln(w, "# HELP http_requests_total Requests served, by status code.")
	fmt.Fprintln(w, "# TYPE http_requests_total counter")
	codes := make([]int, 0, len(m.counts))
	for c := range m.counts {
		codes = append(codes, c)
	}
	sort.Ints(codes)
	for _, c := range codes {
		fmt.Fprintf(w, "http_requests_total{version=%q,code=\"%d\"} %d\n", ver, c, m.counts[c])
	}
	fmt.Fprintln(w, "# HELP http_request_duration_seconds Request latency.")
	fmt.Fprintln(w, "# TYPE http_request_duration_seconds histogram")
	for i, le := range m.buckets {
		fmt.Fprintf(w, "http_request_duration_seconds_bucket{version=%q,le=\"%g\"} %d\n", ver, le, m.hist[i])
	}
	fmt.Fprintf(w, "http_request_duration_seconds_bucket{version=%q,le=\"+Inf\"} %d\n", ver, m.total)
	fmt.Fprintf(w, "http_request_duration_seconds_sum{version=%q} %g\n", ver, m.sum)
	fmt.Fprintf(w, "http_request_duration_seconds_count{version=%q} %d\n", ver, m.total)
	fmt.Fprintln(w, "# HELP sample_app_info Always 1; carries the version.")
	fmt.Fprintln(w, "# TYPE sample_app_info gauge")
	fmt.Fprintf(w, "sample_app_info{version=%q} 1\n", ver)
}

// check GETs url and says what came back; the exit status is the verdict.
func check(url string) int {
	client := http.Client{Timeout: 10 * time.Second}
	res, err := client.Get(url)
	if err != nil {
		log.Printf("check %s: %v", url, err)
		return 1
	}
	defer res.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(res.Body, 200))
	log.Printf("check %s: %s %s", url, res.Status, strings.TrimSpace(string(body)))
	if res.StatusCode < 200 || res.StatusCode > 299 {
		return 1
	}
	return 0
}

func main() {
	if len(os.Args) == 3 && os.Args[1] == "-check" {
		os.Exit(check(os.Args[2]))
	}
	ver := envOr("APP_VERSION", version)
	k, err := readKnobs()
	if err != nil {
		log.Fatalf("sample-app %s: %v", ver, err)
	}
	if k.crashOnStart {
		log.Printf("sample-app %s: CRASH_ON_START is set; exiting with status 1", ver)
		os.Exit(1)
	}
	started := time.Now()
	m := newMetrics()
	rng := rand.New(rand.NewSource(time.Now().UnixNano()))
	var rngMu sync.Mutex

	ready := func() bool {
		if k.neverReady {
			return false
		}
		return k.readyFailAfter == 0 || time.Since(started) < k.readyFailAfter
	}
	// Application routes are measured and subject to ERROR_RATE and LATENCY_MS;
	// probes and /metrics are not, so a bad version still reports honestly.
	app := func(body func(w http.ResponseWriter, r *http.Request)) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			t0 := time.Now()
			if k.latency > 0 {
				time.Sleep(k.latency)
			}
			rngMu.Lock()
			fail := rng.Float64() < k.errorRate
			rngMu.Unlock()
			code := http.StatusOK
			if fail {
				code = http.StatusInternalServerError
				http.Error(w, "injected failure (ERROR_RATE)", code)
			} else {
				body(w, r)
			}
			m.observe(code, time.Since(t0))
		}
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/health", func(w http.ResponseWriter, _ *http.Request) { fmt.Fprintln(w, "ok") })
	mux.HandleFunc("/ready", func(w http.ResponseWriter, _ *http.Request) {
		if !ready() {
			http.Error(w, "not ready", http.StatusServiceUnavailable)
			return
		}
		fmt.Fprintln(w, "ready")
	})
	mux.HandleFunc("/metrics", func(w http.ResponseWriter, _ *http.Request) { m.write(w, ver) })
	mux.HandleFunc("/version", app(func(w http.ResponseWriter, _ *http.Request) { fmt.Fprintln(w, ver) }))
	mux.HandleFunc("/", app(func(w http.ResponseWriter, r *http.Request) {
		host, _ := os.Hostname()
		fmt.Fprintf(w, "hello from sample-app %s on %s\n", ver, host)
	}))
	addr := ":" + k.port
	log.Printf("sample-app %s listening on %s (error-rate=%g latency=%s never-ready=%t ready-fail-after=%s)",
		ver, addr, k.errorRate, k.latency, k.neverReady, k.readyFailAfter)
	log.Fatal(http.ListenAndServe(addr, mux))
}
