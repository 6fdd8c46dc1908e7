// The report form without this script works the same: it only offers to
// fill the position fields from the phone, when the person asks.
(function () {
  "use strict";
  var button = document.getElementById("locate");
  var failed = document.getElementById("locate-failed");
  var lat = document.getElementById("lat");
  var lon = document.getElementById("lon");
  if (!button || !lat || !lon || !("geolocation" in navigator)) return;
  button.hidden = false;
  button.addEventListener("click", function () {
    button.disabled = true;
    if (failed) failed.hidden = true;
    navigator.geolocation.getCurrentPosition(
      function (pos) {
        lat.value = pos.coords.latitude.toFixed(6);
        lon.value = pos.coords.longitude.toFixed(6);
        button.disabled = false;
      },
      function () {
        if (failed) failed.hidden = false;
        button.disabled = false;
      },
      { enableHighAccuracy: true, timeout: 20000, maximumAge: 60000 }
    );
  });
})();
