// Django admin, periodic task form: shows the chosen crontab in words under the field.
// (django-celery-beat does this with an inline script, which our CSP refuses.)
"use strict";
(function ($) {
  const readableCrontabs = JSON.parse(document.getElementById("readable-crontabs").textContent);
  const originalHelp = JSON.parse(document.getElementById("crontab-help").textContent);

  function updateCrontabHelp(additional) {
    const help = $(".field-crontab .help");
    help.text(originalHelp);
    help.append(document.createElement("br"));
    help.append(document.createTextNode(`Translation: ${additional}`));
  }

  $(".field-crontab_translation").hide();
  $(".field-crontab").change(function () {
    updateCrontabHelp(readableCrontabs[$("#id_crontab").val()]);
  });
})(django.jQuery);
