// Command firstline measures time to first result: from starting a command
// to the first complete line on its standard output, over several runs.
//
//	firstline [-n 20] -- sandkasse validate --format json Patient-example.json
//
// It prints one JSON object: runs, median_ms, min_ms, max_ms, and the
// median total wall time of the command (start to exit).
package main

import (
	"bufio"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"sort"
	"time"
)

func main() {
	n := flag.Int("n", 20, "runs")
	flag.Parse()
	args := flag.Args()
	if len(args) == 0 {
		fmt.Fprintln(os.Stderr, "usage: firstline [-n runs] -- command [args...]")
		os.Exit(2)
	}
	var first, total []float64
	for i := 0; i < *n; i++ {
		cmd := exec.Command(args[0], args[1:]...)
		cmd.Stderr = io.Discard
		out, err := cmd.StdoutPipe()
		if err != nil {
			fail(err)
		}
		t0 := time.Now()
		if err := cmd.Start(); err != nil {
			fail(err)
		}
		r := bufio.NewReader(out)
		line, err := r.ReadString('\n')
		t1 := time.Since(t0)
		if err != nil && line == "" {
			fail(fmt.Errorf("%s printed nothing on stdout", args[0]))
		}
		io.Copy(io.Discard, r)
		cmd.Wait() // a non-zero exit (resource with errors) is a result too
		first = append(first, ms(t1))
		total = append(total, ms(time.Since(t0)))
	}
	sort.Float64s(first)
	sort.Float64s(total)
	json.NewEncoder(os.Stdout).Encode(map[string]any{
		"runs": *n, "median_ms": median(first), "min_ms": first[0], "max_ms": first[len(first)-1],
		"median_exit_ms": median(total),
	})
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

func median(s []float64) float64 {
	m := len(s) / 2
	if len(s)%2 == 1 {
		return s[m]
	}
	return (s[m-1] + s[m]) / 2
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "firstline:", err)
	os.Exit(1)
}
