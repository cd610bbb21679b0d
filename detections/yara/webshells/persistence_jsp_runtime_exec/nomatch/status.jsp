<%@ page contentType="text/html" %>
<% out.println("LGSP status: OK"); %>
