// pause holds a pod's namespaces open; the kubelet's sandbox image. Built locally
// because nothing can be pulled from public registries here.
package main

import (
	"os"
	"os/signal"
	"syscall"
)

func main() {
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM)
	go func() {
		// Reap orphaned children, as PID 1 of the sandbox must.
		for {
			var status syscall.WaitStatus
			if _, err := syscall.Wait4(-1, &status, 0, nil); err != nil {
				select {}
			}
		}
	}()
	<-sigs
	os.Exit(0)
}
