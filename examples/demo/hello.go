// Command hello greets whoever is named on its command line.
package main

import (
	"fmt"
	"os"
	"strings"
)

// Greeting returns the greeting for name.
func Greeting(name string) string {
	if strings.TrimSpace(name) == "" {
		name = "world"
	}
	return "hello, " + name
}

func main() {
	fmt.Println(Greeting(strings.Join(os.Args[1:], " ")))
}
