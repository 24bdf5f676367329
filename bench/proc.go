package main

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// clkTck is USER_HZ, the unit of utime/stime in /proc/<pid>/stat (100 on every Linux
// the project runs on; glibc's sysconf returns the same constant).
const clkTck = 100

// procCPU returns utime+stime of a process (all its threads).
func procCPU(pid int) (time.Duration, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	return parseStatCPU(string(b))
}

// parseStatCPU reads fields 14 and 15 of a /proc/<pid>/stat line; the command (field 2)
// is in parentheses and may hold spaces, so fields are counted after the last ')'.
func parseStatCPU(stat string) (time.Duration, error) {
	i := strings.LastIndexByte(stat, ')')
	if i < 0 {
		return 0, fmt.Errorf("stat line without a command: %q", stat)
	}
	f := strings.Fields(stat[i+1:])
	// f[0] is field 3 (state): utime is field 14 → f[11], stime field 15 → f[12].
	if len(f) < 13 {
		return 0, fmt.Errorf("stat line has %d fields after the command", len(f))
	}
	u, err1 := strconv.ParseInt(f[11], 10, 64)
	s, err2 := strconv.ParseInt(f[12], 10, 64)
	if err1 != nil || err2 != nil {
		return 0, fmt.Errorf("stat utime/stime %q/%q", f[11], f[12])
	}
	return time.Duration(u+s) * time.Second / clkTck, nil
}

// selfCPU is this process's user+system time (getrusage(RUSAGE_SELF)).
func selfCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// procMem returns VmRSS and VmHWM of a process in bytes.
func procMem(pid int) (rss, hwm int64, err error) {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, 0, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ":")
		if !ok || (k != "VmRSS" && k != "VmHWM") {
			continue
		}
		n, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
		if err != nil {
			return 0, 0, fmt.Errorf("%s: %q", k, v)
		}
		if k == "VmRSS" {
			rss = n << 10
		} else {
			hwm = n << 10
		}
	}
	return rss, hwm, sc.Err()
}

// broker is the Kafka JVM on this machine, when it can be found.
type broker struct {
	pid     int
	version string
	logDirs []string
}

var kafkaJar = regexp.MustCompile(`kafka[-_][a-z0-9.-]*?(\d+\.\d+\.\d+)`)

// findBroker reads the pid file scripts/kafka.sh writes and the JVM's command line.
func findBroker(pidFile string) (*broker, error) {
	b, err := os.ReadFile(pidFile)
	if err != nil {
		return nil, err
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		return nil, fmt.Errorf("pid file %s: %w", pidFile, err)
	}
	cmd, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
	if err != nil {
		return nil, fmt.Errorf("broker pid %d: %w", pid, err)
	}
	args := strings.Split(strings.TrimRight(string(cmd), "\x00"), "\x00")
	br := &broker{pid: pid}
	for i, a := range args {
		if m := kafkaJar.FindStringSubmatch(a); m != nil && br.version == "" {
			br.version = m[1]
		}
		if a == "-cp" && i+1 < len(args) {
			// A libs/* class path: the version is in the server jar's name.
			if jars, _ := filepath.Glob(strings.TrimSuffix(args[i+1], "*") + "kafka-server-*.jar"); len(jars) > 0 {
				if m := regexp.MustCompile(`(\d+\.\d+\.\d+)\.jar$`).FindStringSubmatch(jars[0]); m != nil {
					br.version = m[1]
				}
			}
		}
	}
	if len(args) > 0 && strings.HasSuffix(args[len(args)-1], ".properties") {
		if props, err := os.ReadFile(args[len(args)-1]); err == nil {
			for _, l := range strings.Split(string(props), "\n") {
				if v, ok := strings.CutPrefix(strings.TrimSpace(l), "log.dirs="); ok {
					br.logDirs = strings.Split(v, ",")
				}
			}
		}
	}
	return br, nil
}

// topicBytes sums the segment files of a topic's partitions in the broker's log dirs
// (what the topic costs on disk, after compression); -1 if unknown.
func (b *broker) topicBytes(topic string) int64 {
	if b == nil || len(b.logDirs) == 0 {
		return -1
	}
	var total int64 = -1
	for _, d := range b.logDirs {
		parts, _ := filepath.Glob(filepath.Join(d, topic+"-*"))
		for _, p := range parts {
			segs, _ := filepath.Glob(filepath.Join(p, "*.log"))
			for _, s := range segs {
				if fi, err := os.Stat(s); err == nil {
					if total < 0 {
						total = 0
					}
					total += fi.Size()
				}
			}
		}
	}
	return total
}

// machine describes where the numbers were taken.
type machine struct {
	CPU, Kernel, GoVersion, Kafka string
	Cores                         int
	MemBytes                      int64
}

func describeMachine(br *broker) machine {
	m := machine{CPU: "unknown", Cores: runtime.NumCPU(), GoVersion: runtime.Version(), Kafka: "unknown"}
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, l := range strings.Split(string(b), "\n") {
			if k, v, ok := strings.Cut(l, ":"); ok && strings.TrimSpace(k) == "model name" {
				m.CPU = strings.TrimSpace(v)
				break
			}
		}
	}
	if b, err := os.ReadFile("/proc/meminfo"); err == nil {
		for _, l := range strings.Split(string(b), "\n") {
			if v, ok := strings.CutPrefix(l, "MemTotal:"); ok {
				n, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
				m.MemBytes = n << 10
			}
		}
	}
	if b, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		m.Kernel = strings.TrimSpace(string(b))
	}
	if br != nil && br.version != "" {
		m.Kafka = "Apache Kafka " + br.version
	}
	return m
}

// loadAvg is the 1-minute load average.
func loadAvg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "unknown"
	}
	if f := strings.Fields(string(b)); len(f) > 0 {
		return f[0]
	}
	return "unknown"
}
