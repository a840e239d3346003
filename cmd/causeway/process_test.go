package main

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

var binary struct {
	once sync.Once
	path string
	err  error
}

// buildBinary compiles causeway once per test run.
func buildBinary(t *testing.T) string {
	t.Helper()
	binary.once.Do(func() {
		dir, err := os.MkdirTemp("", "causeway-bin")
		if err != nil {
			binary.err = err
			return
		}
		binary.path = filepath.Join(dir, "causeway")
		out, err := exec.Command("go", "build", "-o", binary.path, ".").CombinedOutput()
		if err != nil {
			binary.err = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if binary.err != nil {
		t.Fatal(binary.err)
	}
	return binary.path
}

// process is one running causeway binary.
type process struct {
	cmd    *exec.Cmd
	url    string
	stdout []string // the lines it printed before it listened
}

// startProcess runs the causeway binary with args in dir, with env added to the test's
// environment, and waits until it prints the address it listens on. It is killed when the
// test ends.
func startProcess(t *testing.T, dir string, args []string, env ...string) *process {
	t.Helper()
	cmd := exec.Command(buildBinary(t), args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), env...)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	p := &process{cmd: cmd}
	found := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		listening := false
		for sc.Scan() {
			if listening {
				continue
			}
			if rest, ok := strings.CutPrefix(sc.Text(), "listening on "); ok {
				listening = true
				found <- rest
				continue
			}
			p.stdout = append(p.stdout, sc.Text())
		}
	}()
	select {
	case p.url = <-found:
		return p
	case <-time.After(30 * time.Second):
		t.Fatal("causeway did not start listening")
		return nil
	}
}
