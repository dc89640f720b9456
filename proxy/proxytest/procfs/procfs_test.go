package procfs

import (
	"os"
	"testing"
)

func TestParseMemStatus(t *testing.T) {
	raw := "Name:\tstockpile\nVmHWM:\t  204800 kB\nVmRSS:\t  102400 kB\nRssAnon:\t   40960 kB\nRssFile:\t   61440 kB\nRssShmem:\t       0 kB\nThreads:\t12\n"
	m, err := ParseMemStatus([]byte(raw))
	if err != nil {
		t.Fatal(err)
	}
	if m.RSS != 100<<20 || m.Anon != 40<<20 || m.File != 60<<20 || m.Shmem != 0 || m.HWM != 200<<20 {
		t.Errorf("%+v", m)
	}
	if _, err := ParseMemStatus([]byte("Name:\tx\n")); err == nil {
		t.Error("no VmRSS accepted")
	}
	self, err := ReadMemStatus(os.Getpid())
	if err != nil || self.RSS == 0 || self.Anon+self.File+self.Shmem != self.RSS {
		t.Errorf("own status %+v, %v: parts do not add up", self, err)
	}
}

func TestReadCPUParsesCommandsWithSpaces(t *testing.T) {
	// StatFields splits after the last ')': a command named "a) b" must not
	// shift the fields. /proc/self/stat is the only real input we have.
	f, err := StatFields(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	if len(f) < 13 || (f[0] != "R" && f[0] != "S") {
		t.Errorf("fields %v: want the state first", f[:min(len(f), 3)])
	}
	if _, err := ReadCPU(os.Getpid()); err != nil {
		t.Error(err)
	}
}
