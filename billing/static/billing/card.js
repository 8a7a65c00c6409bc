// The card page: Stripe.js (js.stripe.com, or the emulator's copy in development) mounts
// the card field, confirms the SetupIntent in the browser, and only the SetupIntent's id
// is posted to our server. A declined card shows Stripe's message and posts nothing.
(function () {
  "use strict";
  const form = document.getElementById("card-form");
  if (!form || typeof Stripe === "undefined") return;
  const stripe = Stripe(form.dataset.key);
  const card = stripe.elements().create("card");
  card.mount("#card-element");
  const errors = document.getElementById("card-errors");
  const button = document.getElementById("card-submit");
  form.addEventListener("submit", async function (event) {
    if (document.getElementById("setup-intent").value) return;
    event.preventDefault();
    button.disabled = true;
    errors.textContent = "";
    const result = await stripe.confirmCardSetup(form.dataset.clientSecret, {
      payment_method: { card: card },
    });
    if (result.error) {
      errors.textContent = result.error.message || String(result.error);
      button.disabled = false;
      return;
    }
    document.getElementById("setup-intent").value = result.setupIntent.id;
    form.submit();
  });
})();
