package procstat

import (
	"os"
	"testing"
	"time"
)

func TestProcSamplerSelf(t *testing.T) {
	s, err := Start(os.Getpid(), true, 10*time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	s.MeasureStart()
	// Burn some CPU so the window has some.
	deadline := time.Now().Add(50 * time.Millisecond)
	x := 0
	for time.Now().Before(deadline) {
		x++
	}
	s.MeasureEnd()
	st := s.Stop()
	if st.PeakRSS < 1<<20 || st.HWM < st.PeakRSS/2 {
		t.Errorf("peak RSS %d, VmHWM %d: want a few MiB", st.PeakRSS, st.HWM)
	}
	if st.Wall < 50*time.Millisecond || st.CPU < 0 || st.Cores() > 64 {
		t.Errorf("wall %s, cpu %s, cores %f", st.Wall, st.CPU, st.Cores())
	}
	if _, err := Start(1<<30, true, time.Second); err == nil {
		t.Error("sampling a process that does not exist succeeded")
	}
}
