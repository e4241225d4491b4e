package setters_test

import (
	"fmt"

	"github.com/weirgitops/weir/internal/setters"
)

func ExampleUpdateFile() {
	in := []byte(`spec:
  containers:
    - name: app # the web server
      image: "ghcr.io/org/app:1.0.0" # {"$imagepolicy": "apps:app"}
`)
	images := map[string]setters.Image{"apps:app": {Name: "ghcr.io/org/app", Tag: "1.1.0"}}
	out, changes, problems, err := setters.UpdateFile(in, images)
	if err != nil || len(problems) > 0 {
		fmt.Println(err, problems)
		return
	}
	fmt.Print(string(out))
	for _, c := range changes[setters.Object{}] {
		fmt.Println(c.OldValue, "->", c.NewValue)
	}
	// Output:
	// spec:
	//   containers:
	//     - name: app # the web server
	//       image: "ghcr.io/org/app:1.1.0" # {"$imagepolicy": "apps:app"}
	// ghcr.io/org/app:1.0.0 -> ghcr.io/org/app:1.1.0
}
