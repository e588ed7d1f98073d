// Booking page: the number field matters only for a phone session.
const field = document.getElementById("number-field");
const methods = document.querySelectorAll('input[name="method"]');

function showNumber() {
  const chosen = document.querySelector('input[name="method"]:checked');
  if (field) field.hidden = !chosen || chosen.value !== "phone";
}

for (const radio of methods) radio.addEventListener("change", showNumber);
showNumber();
