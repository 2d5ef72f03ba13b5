// The web viewer's entry point (built by scripts/build-ui.ts into the Worker's static assets).
import { render } from "preact";
import "./styles.css";
import { App } from "./components/App.tsx";
import { initAuthState } from "./api/client.ts";
import { startNavigation } from "./navigation.ts";

initAuthState();
startNavigation();
render(<App />, document.getElementById("app")!);
