// Progressive enhancement only: every page works without this file.
"use strict";
(function () {
  // Copy buttons: shown only when script runs; copy the text of the element they name.
  function copyText(text) {
    if (navigator.clipboard && window.isSecureContext) {
      return navigator.clipboard.writeText(text);
    }
    var area = document.createElement("textarea");
    area.value = text;
    area.setAttribute("readonly", "");
    area.style.position = "fixed";
    area.style.opacity = "0";
    document.body.appendChild(area);
    area.select();
    var ok = document.execCommand("copy");
    document.body.removeChild(area);
    return ok ? Promise.resolve() : Promise.reject(new Error("copy failed"));
  }
  document.querySelectorAll("[data-copy]").forEach(function (button) {
    button.hidden = false;
    button.addEventListener("click", function () {
      var source = document.getElementById(button.getAttribute("data-copy"));
      if (!source) return;
      var label = button.textContent;
      copyText(source.textContent.trim()).then(function () {
        button.textContent = "Copied";
      }, function () {
        button.textContent = "Select and copy";
      }).then(function () {
        setTimeout(function () { button.textContent = label; }, 2000);
      });
    });
  });

  // Forms that ask before they submit (revoke a token, block a user).
  document.querySelectorAll("form[data-confirm]").forEach(function (form) {
    form.addEventListener("submit", function (event) {
      if (!window.confirm(form.getAttribute("data-confirm"))) event.preventDefault();
    });
  });

  // "Publish a file": fill the commands in with the file the user names.
  var input = document.querySelector("[data-publish-input]");
  if (input) {
    var error = document.querySelector("[data-publish-error]");
    var safePath = /^[A-Za-z0-9._+~@\/-]+$/;
    var fileName = /^(?![~@])[A-Za-z0-9._+~@-]+(?<![~@])$/;
    var quote = function (s) {
      return safePath.test(s) ? s : "'" + s.replace(/'/g, "'\\''") + "'";
    };
    var update = function () {
      var path = input.value.trim();
      var name = path.split("/").pop();
      var ok = path !== "" && fileName.test(name) && name !== "." && name !== "..";
      if (error) error.hidden = ok || path === "";
      if (!ok) return;
      document.querySelectorAll("[data-template]").forEach(function (pre) {
        var text = pre.getAttribute("data-template")
          .split("@@PATH@@").join(quote(path))
          .split("@@NAME@@").join(name);
        pre.querySelector("code").textContent = text;
      });
    };
    input.addEventListener("input", update);
    update();
  }
})();
