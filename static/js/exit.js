// The "Quick exit" button: leave at once, without leaving this page in the back history.
const EXIT_TO = "https://www.google.nl";

const button = document.getElementById("quick-exit");
if (button) {
  button.addEventListener("click", (event) => {
    event.preventDefault();
    document.body.replaceChildren();
    window.location.replace(EXIT_TO);
  });
}
