// Demo shop behaviour: a cart counter, a self-updating stock list, a console
// message and an error now and then, so recordings have something to show.
(function () {
  "use strict";
  var count = 0;
  document.addEventListener("click", function (ev) {
    var t = ev.target;
    if (t instanceof HTMLElement && t.classList.contains("add")) {
      count++;
      document.querySelectorAll(".cart-status").forEach(function (el) {
        el.textContent = count === 1 ? "1 item in your cart." : count + " items in your cart.";
      });
      console.info("cart: added product", t.getAttribute("data-product"));
    }
    if (t instanceof HTMLElement && t.id === "privacy-choices") {
      ev.preventDefault();
      if (window.replaygate) window.replaygate.showConsent();
    }
  });
  var list = document.getElementById("stock");
  if (list) {
    var refresh = function () {
      fetch("/api/stock", { headers: { Accept: "application/json" } })
        .then(function (r) { return r.json(); })
        .then(function (data) {
          list.textContent = "";
          data.items.forEach(function (it) {
            var li = document.createElement("li");
            if (it.left < 5) li.className = "low";
            var name = document.createElement("span");
            name.textContent = it.name;
            var left = document.createElement("strong");
            left.textContent = it.left + " left";
            li.append(name, left);
            list.append(li);
          });
          var t = document.getElementById("stock-time");
          if (t) t.textContent = new Date(data.at).toLocaleTimeString();
          if (data.items.some(function (it) { return it.left === 0; })) console.error("stock: an item sold out");
        })
        .catch(function (e) { console.warn("stock refresh failed", String(e)); });
    };
    refresh();
    setInterval(refresh, 2000);
  }
})();
