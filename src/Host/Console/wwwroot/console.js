// Progressive enhancement only: every page works without this script.
// 1. Reports the browser's time zone (cookie quota.tz, read by the server to show local times; also filled into the
//    sign-in form). 2. Turns on the copy buttons next to a newly created key.
(function () {
  var zone = "";
  try { zone = Intl.DateTimeFormat().resolvedOptions().timeZone || ""; } catch (e) { zone = ""; }
  if (zone) {
    var current = (document.cookie.match(/(?:^|; )quota\.tz=([^;]*)/) || [])[1];
    if (current === undefined || decodeURIComponent(current) !== zone) {
      document.cookie = "quota.tz=" + encodeURIComponent(zone) + "; path=/; max-age=31536000; samesite=strict" + (location.protocol === "https:" ? "; secure" : "");
    }
    document.querySelectorAll("input[data-browser-zone]").forEach(function (input) { input.value = zone; });
  }
  document.querySelectorAll("button[data-copy]").forEach(function (button) {
    var source = document.getElementById(button.getAttribute("data-copy"));
    var status = button.parentElement.querySelector(".copy-status");
    button.hidden = false;
    button.addEventListener("click", function () {
      var done = function () { if (status) { status.textContent = status.getAttribute("data-copied"); } };
      if (navigator.clipboard && window.isSecureContext) {
        navigator.clipboard.writeText(source.value).then(done, function () { source.select(); document.execCommand("copy"); done(); });
      } else {
        source.select(); document.execCommand("copy"); done();
      }
    });
  });
})();
